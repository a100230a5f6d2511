import Parsing
import Testing

/// Admin forms are read without trapping, whatever a page of another site posts.
@Suite struct FormFieldsTests {
    private func form(_ text: String) throws -> FormFields { try FormFields(decoding: Array(text.utf8)) }

    /// `=` and `&&=&` trapped the old reader (index out of range) before the CSRF check.
    @Test func emptyNamesAndPairsDoNotTrap() throws {
        #expect(try form("=").fields == [.init(name: "", value: "")])
        #expect(try form("&&=&").fields == [.init(name: "", value: "")])
        #expect(try form("").fields.isEmpty)
        #expect(try form("a").fields == [.init(name: "a", value: "")])
        #expect(try form("=x&csrf").value("csrf") == nil, "an empty value is no token")
    }

    @Test func repeatedNamesKeepEveryValueInOrder() throws {
        let fields = try form("csrf=t%2B%2F%3D&queue=low&id=1&id=2&id=3&key=TEE+PQ")
        #expect(fields.values("id") == ["1", "2", "3"])
        #expect(fields.value("csrf") == "t+/=")
        #expect(fields.value("key") == "TEE PQ")
    }

    @Test func aBrokenPercentEscapeOrNonUTF8IsAnErrorThatSaysWhere() {
        for (text, offset) in [("a=%zz", 2), ("a=%4", 2), ("ok=1&b%=1", 6)] {
            let error = #expect(throws: FormError.self) { try self.form(text) }
            #expect(error?.offset == offset, "\(text)")
        }
        let error = #expect(throws: FormError.self) { try FormFields(decoding: Array("a=%FF".utf8)) }
        #expect(error?.reason.contains("not UTF-8") == true)
    }
}
