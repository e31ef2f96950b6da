package gen;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import org.apache.kafka.common.utils.Utils;

// Prints hex(key), Utils.murmur2(key) and BuiltInPartitioner.partitionForKey(key, n)
// for several n, using the real Kafka Java client. Regenerate the vectors with:
//   mvn -q -B -f publish/testdata/javagen/pom.xml compile exec:java > publish/testdata/murmur2_java.txt
// (then delete publish/testdata/javagen/target).
public class Gen {
    public static void main(String[] args) {
        String[] keys = {"", "a", "ab", "abc", "21", "foobar", "a-little-bit-long-string",
            "a-little-bit-longer-string", "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            "order-1", "order-2", "order-42", "{\"id\":1}", "{\"id\":2}", "{\"id\":3}",
            "{\"schema\":null,\"payload\":{\"id\":7}}", "\u00e9t\u00e9", "\u65e5\u672c"};
        int[] ns = {1, 2, 3, 6, 7, 12, 50, 100};
        StringBuilder sb = new StringBuilder("# key_hex murmur2_int32 partition_for_n=1,2,3,6,7,12,50,100\n");
        java.util.List<byte[]> all = new java.util.ArrayList<>();
        for (String k : keys) all.add(k.getBytes(StandardCharsets.UTF_8));
        all.add(new byte[]{0, (byte) 0xff, (byte) 0x80, 0x7f, 1});
        java.util.Random r = new java.util.Random(42);
        for (int i = 0; i < 40; i++) { byte[] b = new byte[r.nextInt(40)]; r.nextBytes(b); all.add(b); }
        for (byte[] b : all) {
            sb.append(b.length == 0 ? "-" : HexFormat.of().formatHex(b)).append(' ').append(Utils.murmur2(b));
            for (int n : ns) sb.append(' ').append(BuiltInPartitioner.partitionForKey(b, n));
            sb.append('\n');
        }
        System.out.print(sb);
    }
}
