import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.bson.BsonDocument;
import org.bson.json.JsonMode;
import org.bson.json.JsonWriterSettings;

/**
 * Regenerates java.txt, the oracle for ejson_test.go: each document of
 * inputs.txt (canonical extended JSON, one a line) rendered by the MongoDB
 * Java driver's org.bson (the version Debezium 3.4 ships, 5.5.1) exactly as
 * Debezium 3.4 renders
 *   - after/before (JsonSerialization.COMPACT_JSON_SETTINGS, strict),
 *   - the key id (getDocumentId: {"_": id} with relaxed compact settings,
 *     the wrapper cut off),
 *   - updateDescription.updatedFields (BsonDocument.toJson()).
 * Run: javac -cp bson-5.5.1.jar JavaJSON.java && java -cp bson-5.5.1.jar:. JavaJSON
 * in this directory. Output: four lines per input (value, key, updated, "--").
 */
public final class JavaJSON {
    public static void main(String[] args) throws Exception {
        JsonWriterSettings compact = JsonWriterSettings.builder().outputMode(JsonMode.STRICT)
                .indent(true).indentCharacters("").newLineCharacters("").build();
        JsonWriterSettings simple = JsonWriterSettings.builder().outputMode(JsonMode.RELAXED)
                .indent(true).indentCharacters("").newLineCharacters("").build();
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("inputs.txt"), StandardCharsets.UTF_8)) {
            if (line.isBlank()) {
                continue;
            }
            BsonDocument doc = BsonDocument.parse(line);
            out.add(doc.toJson(compact));
            String key = new BsonDocument("_", doc.get("_id")).toJson(simple);
            out.add(key.substring(6, key.length() - 1));
            out.add(doc.toJson());
            out.add("--");
        }
        Files.write(Path.of("java.txt"), out, StandardCharsets.UTF_8);
    }
}
