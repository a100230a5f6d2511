import Foundation

/// Progress lines on standard error, so `--json` output on standard output stays clean.
public struct ProgressLines: Sendable {
    public init() {}

    public func say(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
