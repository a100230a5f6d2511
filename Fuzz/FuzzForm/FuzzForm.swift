import FuzzSupport
import Parsing

/// libFuzzer target: `application/x-www-form-urlencoded` bodies, as a browser, or a page of another site, may
/// post them to `/admin`. Reading never traps; what it reads, encoded again, reads back the same.
@main enum FuzzForm {
    static func main() { runLibFuzzer(test) }
}

private func test(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let bytes = fuzzInput(data, count)
    guard let form = try? FormFields(decoding: bytes) else { return 0 }
    let encoded = form.fields.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&")
    guard let again = try? FormFields(decoding: Array(encoded.utf8)), again == form else {
        fatalError("\(form.fields) does not read back from \(encoded)")
    }
    if let first = form.fields.first, form.values(first.name).first != first.value { fatalError("values(\(first.name)) lost its first value") }
    return 0
}

private let hexDigits = Array("0123456789ABCDEF".utf8)

/// Percent-encodes every byte but ASCII letters and digits.
private func encode(_ text: String) -> String {
    var output: [UInt8] = []
    output.reserveCapacity(text.utf8.count * 3)
    for byte in text.utf8 {
        if (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
            output.append(byte)
        } else {
            output += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
        }
    }
    return String(decoding: output, as: UTF8.self)
}
