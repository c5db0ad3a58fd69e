package kinesisaggs.launcher;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import software.amazon.kinesis.leases.LeaseAssignmentStrategy;
import software.amazon.kinesis.multilang.config.TunedSchedulers;

/**
 * KCL settings that exist in its Java configuration but that the MultiLangDaemon's
 * properties do not expose, read from the same properties file (which the daemon's own
 * parser ignores: it skips keys it does not know). {@code consumer_app/kcl_properties.py}
 * lists these keys as known, so a typo is still an error.
 */
public record Tuning(
        Long shardConsumerDispatchPollIntervalMillis,
        LeaseAssignmentStrategy leaseAssignmentStrategy,
        Long dynamoDbLockBasedLeaderLeaseDurationInMillis,
        Long dynamoDbLockBasedLeaderHeartbeatPeriodInMillis,
        boolean releaseLeasesOnShutdown) {
    /** The numeric keys this launcher reads, with the range each accepts. */
    static final Map<String, long[]> KEYS = new TreeMap<>(Map.of(
            "shardConsumerDispatchPollIntervalMillis", new long[] {10, 60_000},
            "dynamoDbLockBasedLeaderLeaseDurationInMillis", new long[] {3_000, 600_000},
            "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", new long[] {500, 200_000}));
    /** The other keys this launcher reads. */
    static final List<String> NAMED_KEYS = List.of("leaseAssignmentStrategy", "releaseLeasesOnShutdown");

    public static Tuning from(final Properties properties) {
        final List<String> problems = new ArrayList<>();
        final Long dispatch = millis(properties, "shardConsumerDispatchPollIntervalMillis", problems);
        final LeaseAssignmentStrategy strategy = strategy(properties, problems);
        final Long leaderLease = millis(properties, "dynamoDbLockBasedLeaderLeaseDurationInMillis", problems);
        final Long leaderBeat = millis(properties, "dynamoDbLockBasedLeaderHeartbeatPeriodInMillis", problems);
        // KCL's advice: a heartbeat at least 3 times within the lease, or a leader that is slow
        // to write once loses the lock (defaults 120,000 and 30,000 when unset)
        final long lease = leaderLease != null ? leaderLease : 120_000;
        final long beat = leaderBeat != null ? leaderBeat : 30_000;
        if ((leaderLease != null || leaderBeat != null) && beat * 3 > lease) {
            problems.add("dynamoDbLockBasedLeaderHeartbeatPeriodInMillis=" + beat
                    + " must be at most a third of dynamoDbLockBasedLeaderLeaseDurationInMillis=" + lease);
        }
        final boolean release = flag(properties, "releaseLeasesOnShutdown", true, problems);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid launcher settings: " + String.join("; ", problems));
        }
        return new Tuning(dispatch, strategy, leaderLease, leaderBeat, release);
    }

    private static LeaseAssignmentStrategy strategy(final Properties p, final List<String> problems) {
        final String raw = p.getProperty("leaseAssignmentStrategy");
        if (raw == null || raw.isBlank()) {
            return null;
        }
        try {
            return LeaseAssignmentStrategy.valueOf(raw.trim());
        } catch (IllegalArgumentException e) {
            problems.add("leaseAssignmentStrategy=" + raw.trim() + ": one of "
                    + java.util.Arrays.toString(LeaseAssignmentStrategy.values()));
            return null;
        }
    }

    private static boolean flag(final Properties p, final String key, final boolean unset,
                                final List<String> problems) {
        final String raw = p.getProperty(key);
        if (raw == null || raw.isBlank()) {
            return unset;
        }
        return switch (raw.trim()) {
            case "true" -> true;
            case "false" -> false;
            default -> {
                problems.add(key + "=" + raw.trim() + ": true or false");
                yield unset;
            }
        };
    }

    private static Long millis(final Properties p, final String key, final List<String> problems) {
        final String raw = p.getProperty(key);
        if (raw == null || raw.isBlank()) {
            return null;
        }
        final long[] range = KEYS.get(key);
        try {
            final long v = Long.parseLong(raw.trim());
            if (v < range[0] || v > range[1]) {
                problems.add(key + "=" + raw.trim() + ": must be between " + range[0] + " and " + range[1]);
                return null;
            }
            return v;
        } catch (NumberFormatException e) {
            problems.add(key + "=" + raw.trim() + ": not an integer");
            return null;
        }
    }

    /** Apply what is set; what is not set keeps KCL's default. */
    public void applyTo(final TunedSchedulers.Configs configs) {
        if (shardConsumerDispatchPollIntervalMillis != null) {
            configs.coordinator().shardConsumerDispatchPollIntervalMillis(shardConsumerDispatchPollIntervalMillis);
        }
        if (leaseAssignmentStrategy != null) {
            configs.leaseManagement().leaseAssignmentStrategy(leaseAssignmentStrategy);
        }
        if (dynamoDbLockBasedLeaderLeaseDurationInMillis != null) {
            configs.leaseManagement()
                    .dynamoDbLockBasedLeaderLeaseDurationInMillis(dynamoDbLockBasedLeaderLeaseDurationInMillis);
        }
        if (dynamoDbLockBasedLeaderHeartbeatPeriodInMillis != null) {
            configs.leaseManagement()
                    .dynamoDbLockBasedLeaderHeartbeatPeriodInMillis(dynamoDbLockBasedLeaderHeartbeatPeriodInMillis);
        }
    }
}
