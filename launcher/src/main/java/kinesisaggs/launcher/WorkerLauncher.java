package kinesisaggs.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.leases.LeaseManagementConfig;
import software.amazon.kinesis.multilang.MultiLangDaemonConfig;
import software.amazon.kinesis.multilang.config.TunedSchedulers;

/**
 * Runs the KCL MultiLangDaemon's Scheduler, and exits non-zero whenever it ends without
 * having been asked to stop.
 *
 * <p>KCL's own {@code MultiLangDaemon} exits 0 whenever {@code Scheduler.run()} returns, and
 * the Scheduler returns after it gives up initializing ("Unable to initialize after 20
 * attempts"): a worker then vanishes with status 0, which neither {@code docker --restart
 * on-failure}, ECS's essential-container rule nor a supervisor treats as a failure. This
 * launcher builds the same configuration and record processor factory from the same
 * properties file, runs the same Scheduler with the same graceful shutdown on SIGTERM, and
 * differs in its exit status (see {@link Outcome}), in the few settings of {@link Tuning},
 * and in giving its leases back after a complete graceful shutdown (see {@link LeaseRelease}).
 */
public final class WorkerLauncher {
    private static final Logger log = LoggerFactory.getLogger(WorkerLauncher.class);

    private WorkerLauncher() {}

    private static Properties load(final String file) throws IOException {
        final Properties p = new Properties();
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            p.load(in);
        }
        return p;
    }

    public static void main(final String[] args) {
        final String propertiesFile;
        final MultiLangDaemonConfig config;
        final Scheduler scheduler;
        final Tuning tuning;
        final AtomicReference<LeaseManagementConfig> leaseManagement = new AtomicReference<>();
        try {
            propertiesFile = Arguments.propertiesFile(args);
            tuning = Tuning.from(load(propertiesFile));
            config = new MultiLangDaemonConfig(propertiesFile);
            scheduler = TunedSchedulers.build(
                    config.getMultiLangDaemonConfiguration(), config.getRecordProcessorFactory(), configs -> {
                        tuning.applyTo(configs);
                        leaseManagement.set(configs.leaseManagement());
                    });
            log.info("Launcher settings: {}", tuning);
        } catch (Exception e) {
            log.error("Cannot start the KCL worker: {}", e.toString(), e);
            System.exit(Outcome.CONFIG_ERROR);
            return;
        }

        final AtomicBoolean stopRequested = new AtomicBoolean(false);
        final long graceMillis = config.getMultiLangDaemonConfiguration().getShutdownGraceMillis();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            stopRequested.set(true);
            log.info("Process terminated, will initiate shutdown (up to {} ms).", graceMillis);
            try {
                final boolean complete = Boolean.TRUE.equals(
                        scheduler.startGracefulShutdown().get(graceMillis, TimeUnit.MILLISECONDS));
                log.info("Process shutdown is complete.");
                if (complete && tuning.releaseLeasesOnShutdown()) {
                    // every processor checkpointed and ended: hand the shards on now
                    final String worker = scheduler.leaseCoordinator().workerIdentifier();
                    final LeaseManagementConfig lm = leaseManagement.get();
                    final boolean forgotten = LeaseRelease.forgetWorker(lm.dynamoDBClient(), lm.tableName(), worker);
                    log.info("Released {} lease(s) of {} for the other workers (metrics row deleted: {}).",
                            LeaseRelease.releaseOwn(scheduler.leaseRefresher(), worker), worker, forgotten);
                }
            } catch (Exception e) {
                log.error("Encountered an error during shutdown.", e);
            }
        }, "graceful-shutdown"));

        Throwable failure = null;
        try {
            scheduler.run();
        } catch (Throwable t) {
            failure = t;
        }
        final Outcome outcome = Outcome.of(stopRequested.get(), failure);
        if (outcome.code() != 0) {
            log.error("{}", outcome.reason(), failure);
        } else {
            log.info("{}", outcome.reason());
        }
        // During a shutdown (SIGTERM) this call waits for the hook, and the JVM ends as the
        // signal dictates; otherwise it ends the process with the outcome's status.
        System.exit(outcome.code());
    }
}
