import java.util.List;

import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * The MongoDB stand-in for Sluice's integration tests (scripts/services.sh):
 * mongo-java-server's in-memory backend with its oplog enabled, so that
 * change streams work, bound to 127.0.0.1:PORT. Data lives in memory only.
 *
 * It reports MongoDB 5.0 with wire version 13: the library's own 5.0 setting
 * reports wire version 8 (4.2), which current drivers refuse (the Go driver
 * v2.10 wants 9 or more). Only the number reported changes, not what the
 * server implements.
 */
public final class SluiceMongo {
    public static void main(String[] args) {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 27019;
        MemoryBackend backend = new MemoryBackend();
        backend.version(new MongoVersion() {
            @Override
            public List<Integer> getVersionArray() {
                return List.of(5, 0, 0);
            }

            @Override
            public int getWireVersion() {
                return 13;
            }
        });
        MongoServer server = new MongoServer(backend);
        server.enableOplog();
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("sluice-mongo: listening on 127.0.0.1:" + port);
    }
}
