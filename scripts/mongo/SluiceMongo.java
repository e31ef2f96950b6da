import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * The MongoDB stand-in for Sluice's integration tests (scripts/services.sh):
 * mongo-java-server's in-memory backend with its oplog enabled, so that
 * change streams work, bound to 127.0.0.1:PORT. Data lives in memory only.
 */
public final class SluiceMongo {
    public static void main(String[] args) {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 27019;
        MongoServer server = new MongoServer(new MemoryBackend());
        server.enableOplog();
        server.bind("127.0.0.1", port);
        Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownNow));
        System.out.println("sluice-mongo: listening on 127.0.0.1:" + port);
    }
}
