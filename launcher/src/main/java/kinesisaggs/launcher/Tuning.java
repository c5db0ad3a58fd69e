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
public record Tuning(Long shardConsumerDispatchPollIntervalMillis, LeaseAssignmentStrategy leaseAssignmentStrategy) {
    /** The numeric keys this launcher reads, with the range each accepts. */
    static final Map<String, long[]> KEYS = new TreeMap<>(Map.of(
            "shardConsumerDispatchPollIntervalMillis", new long[] {10, 60_000}));
    /** The other keys this launcher reads. */
    static final List<String> NAMED_KEYS = List.of("leaseAssignmentStrategy");

    public static Tuning from(final Properties properties) {
        final List<String> problems = new ArrayList<>();
        final Long dispatch = millis(properties, "shardConsumerDispatchPollIntervalMillis", problems);
        final LeaseAssignmentStrategy strategy = strategy(properties, problems);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("invalid launcher settings: " + String.join("; ", problems));
        }
        return new Tuning(dispatch, strategy);
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
    }
}
