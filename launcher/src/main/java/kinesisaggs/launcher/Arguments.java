package kinesisaggs.launcher;

/** The launcher's command line: the MultiLangDaemon's, reduced to its properties file. */
final class Arguments {
    private Arguments() {}

    /** {@code --properties-file F}, {@code -p F} or a single positional {@code F}. */
    static String propertiesFile(final String[] args) {
        String file = null;
        for (int i = 0; i < args.length; i++) {
            final String a = args[i];
            if (a.equals("--properties-file") || a.equals("-p")) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(a + " needs a file name");
                }
                file = args[++i];
            } else if (file == null && !a.startsWith("-")) {
                file = a;
            } else {
                throw new IllegalArgumentException("unexpected argument " + a
                        + " (usage: WorkerLauncher --properties-file FILE)");
            }
        }
        if (file == null) {
            throw new IllegalArgumentException("no properties file (usage: WorkerLauncher --properties-file FILE)");
        }
        return file;
    }
}
