import CSystemShims

/// glibc's malloc settings, which Swift's Glibc module does not export.
public enum MallocTuning {
    /// Caps the number of malloc arenas (a no-op on other C libraries).
    public static func limitArenas(_ arenas: Int32) {
        wooqueue_limit_malloc_arenas(arenas)
    }
}
