/// The commit the running binary was built from, embedded at build time by BuildCommitPlugin:
/// a 40-digit hash, with "+dirty" when tracked files differed from it, "+archive" when built
/// from a `git archive` tarball, or "unknown" (no git and no stamped archive).
public enum BuildCommit {
    public static var value: String { generatedBuildCommit }
}
