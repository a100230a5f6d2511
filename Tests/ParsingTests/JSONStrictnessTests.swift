import Foundation
import Parsing
import Testing

/// The scanner is as strict as its documentation says, and no input makes it trap.
@Suite struct JSONStrictnessTests {
    private func decode(_ json: String) throws -> String? {
        let bytes = Array(json.utf8)
        return try JSONScanner.string(in: bytes, 0..<bytes.count)
    }

    /// A high surrogate followed by an escape that is not a low surrogate overflowed a UInt32 and trapped; queued
    /// as a job it crashed `serve` four times. Unpaired surrogates now read as U+FFFD, and the escape after one is
    /// read on its own.
    @Test func unpairedSurrogatesReadAsTheReplacementCharacter() throws {
        #expect(try decode(#""\ud800\u0041""#) == "\u{FFFD}A")
        #expect(try decode(#""\ud800""#) == "\u{FFFD}")
        #expect(try decode(#""\udc00x""#) == "\u{FFFD}x")
        #expect(try decode(#""\ud800\ud800\udc00""#) == "\u{FFFD}\u{10000}")
        #expect(try decode(#""\uDBFF\uDFFF""#) == "\u{10FFFF}")
        #expect(try decode(#""\ud83d\ude00 ok""#) == "😀 ok")
        #expect(try JSONValue.parse(Array(#"{"s":"\ud800\u0041"}"#.utf8))["s"] == .string("\u{FFFD}A"))
    }

    @Test(arguments: [
        ("1-2e+", "unexpected text"), ("01", "unexpected text"), ("-", "expected a digit"), ("1.", "after '.'"), (".5", "unexpected character"),
        ("1e", "exponent"), ("+1", "unexpected character"), ("1e+", "exponent"), ("-01", "unexpected text"), ("[1,]", "unexpected character"),
        (#""\x41""#, "invalid escape"), (#""\u12""#, "\\u escape"), (#""\u12G4""#, "invalid \\u escape"), ("\"a\u{01}\"", "control character"),
        ("{\"a\" 1}", "expected ':'"), ("[1 2]", "expected ']'"), ("nul", "unexpected end"), ("true false", "unexpected text"),
    ])
    func invalidJSONIsRejectedWithAReason(text: String, reason: String) {
        let error = #expect(throws: JSONScanError.self) { try JSONScanner.validate(Array(text.utf8)) }
        #expect(error?.reason.contains(reason) == true, "\(text): \(error?.description ?? "accepted")")
        #expect((try? JSONValue.parse(Array(text.utf8))) == nil, "\(text)")
        #expect((try? JSONSerialization.jsonObject(with: Data(text.utf8), options: .fragmentsAllowed)) == nil || text == "[1,]",
                "the oracle refuses \(text) too (Foundation alone allows a trailing comma)")
    }

    @Test func invalidUTF8IsRejectedAtEveryPlaceInAString() throws {
        for bad in [[0xFF], [0xC0, 0xAF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80]] as [[UInt8]] {
            for before in 0..<10 {
                let text = Array("{\"a\":\"".utf8) + Array(repeating: UInt8(ascii: "x"), count: before) + bad + Array("\"}".utf8)
                let error = #expect(throws: JSONScanError.self) { try JSONScanner.validate(text) }
                #expect(error?.reason == "invalid UTF-8", "\(bad) after \(before) bytes")
            }
        }
        #expect(try decode("\"Caf\u{E9} \u{20AC} \u{1F600}\"") == "Café € 😀", "well-formed UTF-8 passes")
    }

    @Test func validDocumentsReadAsFoundationReadsThem() throws {
        let documents = [
            #"{"a":[1,-0,2.5e3,-1E-2,0.5],"b":{"c":null,"d":true,"e":false},"f":"\"\\\/\b\f\n\r\t\u00e9"}"#,
            #"[[],{},"",0]"#, "  7 ", #""x""#,
        ]
        for document in documents {
            let ours = try JSONValue.parse(Array(document.utf8))
            let theirs = try JSONSerialization.jsonObject(with: Data(document.utf8), options: .fragmentsAllowed)
            #expect("\(ours)".isEmpty == false)
            #expect(String(describing: theirs).isEmpty == false)
            if case .object(let members) = ours, let dictionary = theirs as? [String: Any] {
                #expect(Set(members.map(\.key)) == Set(dictionary.keys))
                #expect(members.first { $0.key == "f" }?.value == .string(dictionary["f"] as? String ?? "?"))
            }
        }
    }

    @Test func compactingKeepsTheValueAndLeavesNoNewLine() throws {
        let text = "{\n  \"a\" : [ 1 ,\t2 ],\r\n  \"b\" : \"x y\\n\\\" z\"\n}\n"
        let compacted = try JSONScanner.compacted(Array(text.utf8))
        #expect(String(decoding: compacted, as: UTF8.self) == #"{"a":[1,2],"b":"x y\n\" z"}"#)
        #expect(try JSONValue.parse(compacted) == JSONValue.parse(Array(text.utf8)))
        #expect(throws: JSONScanError.self) { try JSONScanner.compacted(Array("{\"a\":".utf8)) }
        let controls = Array("[\"a\u{7F}b\u{9B}c\u{1B}\"]".utf8.filter { $0 != 0x1B })  // DEL and CSI raw, as JSON allows
        let shown = try JSONScanner.compacted(controls)
        #expect(String(decoding: shown, as: UTF8.self) == #"["a\u007fb\u009bc"]"#)
        #expect(try JSONValue.parse(shown) == JSONValue.parse(controls))
    }
}
