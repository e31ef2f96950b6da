// Compat prints org.apache.avro.SchemaCompatibility's verdict for every
// pair in compat_pairs.json, in both directions, one line each:
//   <name>/<direction>\t<TYPE@location>;<TYPE@location>...   (empty: compatible)
// direction "backward": reader new, writer old; "forward": reader old,
// writer new. Run by gen.sh; its output is compat_java.golden.
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.util.ArrayList;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.SchemaCompatibility;

public class Compat {
  public static void main(String[] args) throws Exception {
    JsonNode pairs = new ObjectMapper().readTree(new File(args[0]));
    for (JsonNode p : pairs) {
      String oldS = p.get("old").toString(), newS = p.get("new").toString();
      print(p.get("name").asText() + "/backward", newS, oldS);
      print(p.get("name").asText() + "/forward", oldS, newS);
    }
  }

  static void print(String name, String reader, String writer) {
    Schema r = new Schema.Parser().parse(reader);
    Schema w = new Schema.Parser().parse(writer);
    List<String> out = new ArrayList<>();
    for (SchemaCompatibility.Incompatibility in :
        SchemaCompatibility.checkReaderWriterCompatibility(r, w).getResult().getIncompatibilities()) {
      out.add(in.getType() + "@" + in.getLocation() + "@" + in.getMessage());
    }
    System.out.println(name + "\t" + String.join(";", out));
  }
}
