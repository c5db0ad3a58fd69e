package software.amazon.kinesis.multilang.config;

import java.util.function.Consumer;

import software.amazon.kinesis.coordinator.Scheduler;
import software.amazon.kinesis.processor.ShardRecordProcessorFactory;

/**
 * The one door into KCL's multilang internals: the MultiLangDaemon resolves its properties
 * into KCL's configuration objects in the package-private {@code resolvedConfiguration};
 * this class, in the same package, lets the launcher change settings that the properties
 * file cannot express before the Scheduler is built (see {@code kinesisaggs.launcher.Tuning}).
 */
public final class TunedSchedulers {
    private TunedSchedulers() {}

    /** KCL's configuration objects, exactly as the MultiLangDaemon would use them. */
    public record Configs(
            software.amazon.kinesis.coordinator.CoordinatorConfig coordinator,
            software.amazon.kinesis.leases.LeaseManagementConfig leaseManagement) {}

    public static Scheduler build(
            final MultiLangDaemonConfiguration configuration,
            final ShardRecordProcessorFactory factory,
            final Consumer<Configs> tuning) {
        final MultiLangDaemonConfiguration.ResolvedConfiguration resolved =
                configuration.resolvedConfiguration(factory);
        tuning.accept(new Configs(resolved.getCoordinatorConfig(), resolved.getLeaseManagementConfig()));
        return resolved.build();
    }
}
