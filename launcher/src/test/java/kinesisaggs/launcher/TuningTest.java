package kinesisaggs.launcher;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Properties;

import org.junit.jupiter.api.Test;
import software.amazon.kinesis.coordinator.CoordinatorConfig;
import software.amazon.kinesis.leases.LeaseAssignmentStrategy;
import software.amazon.kinesis.leases.LeaseManagementConfig;
import software.amazon.kinesis.multilang.config.TunedSchedulers;

class TuningTest {
    private static Properties props(final String... kv) {
        final Properties p = new Properties();
        for (int i = 0; i < kv.length; i += 2) {
            p.setProperty(kv[i], kv[i + 1]);
        }
        return p;
    }

    @Test
    void unsetKeysKeepKclDefaults() {
        final Tuning t = Tuning.from(props("streamName", "s"));
        assertNull(t.shardConsumerDispatchPollIntervalMillis());
        final CoordinatorConfig c = new CoordinatorConfig("app");
        t.applyTo(new TunedSchedulers.Configs(c, null));
        assertEquals(1000L, c.shardConsumerDispatchPollIntervalMillis());
    }

    @Test
    void aSetKeyReachesKclsConfiguration() {
        final CoordinatorConfig c = new CoordinatorConfig("app");
        Tuning.from(props("shardConsumerDispatchPollIntervalMillis", " 100 ")).applyTo(new TunedSchedulers.Configs(c, null));
        assertEquals(100L, c.shardConsumerDispatchPollIntervalMillis());
    }

    @Test
    void theLeaseCountStrategyReachesTheLeaseManagementConfig() {
        final LeaseManagementConfig lm = new LeaseManagementConfig("app", "app", null, null, "w1");
        assertEquals(LeaseAssignmentStrategy.WORKER_UTILIZATION_AWARE, lm.leaseAssignmentStrategy());
        Tuning.from(props("leaseAssignmentStrategy", "LEASE_COUNT_BASED"))
                .applyTo(new TunedSchedulers.Configs(new CoordinatorConfig("app"), lm));
        assertEquals(LeaseAssignmentStrategy.LEASE_COUNT_BASED, lm.leaseAssignmentStrategy());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tuning.from(props("leaseAssignmentStrategy", "ROUND_ROBIN")));
        assertTrue(e.getMessage().contains("leaseAssignmentStrategy=ROUND_ROBIN: one of"), e.getMessage());
    }

    @Test
    void theLeaderLockTimingsReachTheLeaseManagementConfig() {
        final LeaseManagementConfig lm = new LeaseManagementConfig("app", "app", null, null, "w1");
        Tuning.from(props("dynamoDbLockBasedLeaderLeaseDurationInMillis", "10000",
                        "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", "2000"))
                .applyTo(new TunedSchedulers.Configs(new CoordinatorConfig("app"), lm));
        assertEquals(10_000L, lm.dynamoDbLockBasedLeaderLeaseDurationInMillis());
        assertEquals(2_000L, lm.dynamoDbLockBasedLeaderHeartbeatPeriodInMillis());
    }

    @Test
    void aHeartbeatTooCloseToTheLeaseIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tuning.from(props("dynamoDbLockBasedLeaderLeaseDurationInMillis", "10000",
                        "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", "5000")));
        assertTrue(e.getMessage().contains("must be at most a third"), e.getMessage());
        // against KCL's default lease (120 s), a heartbeat of 50 s is too slow as well
        assertThrows(IllegalArgumentException.class,
                () -> Tuning.from(props("dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", "50000")));
    }

    @Test
    void badValuesAreNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tuning.from(props("shardConsumerDispatchPollIntervalMillis", "fast")));
        assertTrue(e.getMessage().contains("shardConsumerDispatchPollIntervalMillis=fast: not an integer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Tuning.from(props("shardConsumerDispatchPollIntervalMillis", "1")));
        assertTrue(e.getMessage().contains("must be between 10 and 60000"), e.getMessage());
    }

    @Test
    void leasesAreReleasedOnShutdownUnlessSwitchedOff() {
        assertTrue(Tuning.from(props()).releaseLeasesOnShutdown());
        assertTrue(Tuning.from(props("releaseLeasesOnShutdown", "true")).releaseLeasesOnShutdown());
        assertEquals(false, Tuning.from(props("releaseLeasesOnShutdown", " false ")).releaseLeasesOnShutdown());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Tuning.from(props("releaseLeasesOnShutdown", "yes")));
        assertTrue(e.getMessage().contains("releaseLeasesOnShutdown=yes: true or false"), e.getMessage());
    }
}
