import Foundation

/// Values as the dashboard's pages put them: in a query string, and as times. (The templates escape HTML.)
enum DashboardText {
    /// A query-string value.
    static func query(_ text: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// UTC time of a ms timestamp, to the second.
    static func time(_ millis: Int64?) -> String {
        guard let millis else { return "–" }
        let text = Date(timeIntervalSince1970: Double(millis) / 1000).ISO8601Format()
        return text.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "")
    }
}
