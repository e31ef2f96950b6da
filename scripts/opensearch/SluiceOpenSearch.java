import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.analysis.common.CommonAnalysisPlugin;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.unit.TimeValue;
import org.opensearch.env.Environment;
import org.opensearch.index.mapper.MapperExtrasPlugin;
import org.opensearch.index.reindex.ReindexPlugin;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.painless.PainlessPlugin;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * A single OpenSearch node for Sluice's integration tests, started by
 * scripts/services.sh:
 *
 * <pre>java -cp classes:libs/* SluiceOpenSearch HOME HTTP_PORT TRANSPORT_PORT</pre>
 *
 * The distribution's launcher (bin/opensearch, Bootstrap) is not used: it
 * wants the tarball's layout, installed plugins and a security manager. A
 * Node subclass can instead hand the server its plugins as classes already on
 * the classpath, which is how OpenSearch's own test clusters start in-JVM
 * nodes. Loaded: the netty4 HTTP/transport layer and the modules a sink's
 * tests may touch (mapper-extras for scaled_float, analysis-common, reindex
 * for _delete_by_query, lang-painless). No security plugin: plain HTTP, no
 * authentication.
 *
 * Single node on 127.0.0.1, data and logs under HOME, new indices get no
 * replicas (so health turns green), indices are created on first write, and
 * the disk watermarks are off so a nearly full disk does not make indices
 * read-only. "sluice-opensearch: listening" on stdout once HTTP answers;
 * SIGTERM closes the node.
 */
public final class SluiceOpenSearch {
    private static final List<Class<? extends Plugin>> PLUGINS = List.of(
            Netty4Plugin.class,
            MapperExtrasPlugin.class,
            CommonAnalysisPlugin.class,
            ReindexPlugin.class,
            PainlessPlugin.class);

    /** Node's constructor with classpath plugins is protected. */
    private static final class ClasspathNode extends Node {
        ClasspathNode(Environment env) {
            super(env, PLUGINS, true);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: SluiceOpenSearch HOME HTTP_PORT TRANSPORT_PORT");
            System.exit(2);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        int httpPort = Integer.parseInt(args[1]);
        int transportPort = Integer.parseInt(args[2]);
        for (String dir : new String[] {"config", "data", "logs", "plugins", "modules"}) {
            Files.createDirectories(home.resolve(dir));
        }

        Settings settings = Settings.builder()
                .put("cluster.name", "sluice-dev")
                .put("node.name", "sluice-opensearch")
                .put("path.home", home.toString())
                .put("path.data", home.resolve("data").toString())
                .put("path.logs", home.resolve("logs").toString())
                .put("network.host", "127.0.0.1")
                .put("http.port", httpPort)
                .put("transport.port", transportPort)
                .put("http.type", "netty4")
                .put("transport.type", "netty4")
                .put("discovery.type", "single-node")
                .put("action.auto_create_index", true)
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                .put("bootstrap.memory_lock", false)
                .build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(
                settings, Collections.emptyMap(), null, () -> "sluice-opensearch");
        Node node = new ClasspathNode(env);

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "sluice-opensearch-shutdown"));

        node.start();
        // Read from the cluster state's settings, not the node's: without it
        // every new index wants one replica and health stays yellow.
        node.client().admin().cluster().prepareUpdateSettings()
                .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
                .get(TimeValue.timeValueSeconds(60));
        System.out.println("sluice-opensearch: listening on 127.0.0.1:" + httpPort);
        System.out.flush();
        // The node's threads are daemons: keep the JVM up until SIGTERM.
        stopped.await();
    }
}
