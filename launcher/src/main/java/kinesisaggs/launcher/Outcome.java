package kinesisaggs.launcher;

/**
 * The exit status of a worker whose Scheduler has returned, and why: the one rule of the launcher.
 *
 * <p>Only a requested stop (SIGTERM, SIGINT) is a success. A Scheduler that returns by itself
 * has given up (it logs "Unable to initialize after N attempts" just before), so the process
 * must fail, and its supervisor must start it again.
 */
public record Outcome(int code, String reason) {
    /** The Scheduler returned, or threw, without a stop request. */
    public static final int UNEXPECTED_END = 1;
    /** The properties file could not be read or turned into a Scheduler. */
    public static final int CONFIG_ERROR = 2;

    public static Outcome of(final boolean stopRequested, final Throwable failure) {
        if (stopRequested) {
            return new Outcome(0, "KCL worker stopped on request.");
        }
        if (failure != null) {
            return new Outcome(UNEXPECTED_END, "KCL worker failed without a stop request: " + failure);
        }
        return new Outcome(UNEXPECTED_END, "KCL worker ended without a stop request (its Scheduler gave up; "
                + "the reason is logged above, e.g. \"Unable to initialize after N attempts\"): exiting 1 "
                + "so that the supervisor starts it again.");
    }
}
