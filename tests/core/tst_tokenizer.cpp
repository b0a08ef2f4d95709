// Tokenizers on hand-made vocabularies whose ids are worked out by hand (merge rank order, ties,
// byte fallback, merges by score, ignore_merges), GPT-2's byte table and pre-tokenizer splits (the
// expected splits are what JavaScript's regex gives), Llama 3's and Qwen2's splits (worked out by
// hand from their regex as llama.cpp runs it), and hostile files refused with exact messages.
// tests/llm checks real vocabularies against reference tokenizers.
#include <QtTest>

#include <QTemporaryDir>
#include <algorithm>

#include <functional>
#include <nlohmann/json.hpp>

#include "io/GgufFile.h"
#include "io/GgufWriter.h"
#include "llm/Tokenizer.h"
#include "util/Error.h"

using namespace leger;
using Ids = std::vector<std::int32_t>;

Q_DECLARE_METATYPE(Ids)
Q_DECLARE_METATYPE(std::function<void()>)

namespace {

std::string utf8(char32_t c)
{
    std::string s;
    if (c < 0x80) {
        s += static_cast<char>(c);
    } else {
        s += static_cast<char>(0xC0 | (c >> 6));
        s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
}

/// GPT-2's bytes_to_unicode as encoder.py writes it: printable bytes, then the rest from 256 on.
std::vector<char32_t> referenceByteTable()
{
    std::vector<int> bs, cs;
    for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
    for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
    for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
    cs = bs;
    int n = 0;
    for (int b = 0; b < 256; ++b) {
        if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
            bs.push_back(b);
            cs.push_back(256 + n++);
        }
    }
    std::vector<char32_t> table(256);
    for (std::size_t i = 0; i < bs.size(); ++i)
        table[static_cast<std::size_t>(bs[i])] = static_cast<char32_t>(cs[i]);
    return table;
}

/// A byte-level vocabulary: ids 0..255 are the bytes' symbols, then `extra` in order.
std::string byteVocab(const std::vector<std::string>& extra)
{
    nlohmann::json v = nlohmann::json::object();
    const auto& table = gpt2ByteToUnicode();
    for (int b = 0; b < 256; ++b)
        v[utf8(table[static_cast<std::size_t>(b)])] = b;
    for (std::size_t i = 0; i < extra.size(); ++i)
        v[extra[i]] = 256 + i;
    return v.dump();
}

// 256 "he" (rank 1), 257 "ll" (rank 0), 258 "llo" (rank 2), 259 "hello" (rank 3), 260 "Ġw" (rank 4),
// 261 "lo" (rank 5, after "l l": "llo" wins in "hello").
const std::vector<std::string> kExtra = {"he", "ll", "llo", "hello", "\xC4\xA0w", "lo"};
const char* kMerges = "#version: 0.2\nl l\nh e\nll o\nhe llo\n\xC4\xA0 w\nl o\n";

Tokenizer tinyGpt2() { return Tokenizer::fromGpt2(byteVocab(kExtra), kMerges, "vocab.json", "merges.txt"); }

/// A Llama 2 style tokenizer.json: <unk> <s> </s>, byte tokens 3..258 (if `bytes`), then `extra`.
std::string llamaJson(const std::vector<std::string>& extra, const std::vector<std::string>& merges, bool bytes)
{
    nlohmann::json vocab = nlohmann::json::object();
    vocab["<unk>"] = 0;
    vocab["<s>"] = 1;
    vocab["</s>"] = 2;
    int next = 3;
    if (bytes) {
        for (int b = 0; b < 256; ++b) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            vocab[name] = next++;
        }
    }
    for (const auto& t : extra)
        vocab[t] = next++;
    nlohmann::json j;
    j["normalizer"] = nlohmann::json::parse(R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "▁"},
        {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]})");
    j["pre_tokenizer"] = nullptr;
    j["added_tokens"] = nlohmann::json::parse(R"([{"id": 0, "content": "<unk>", "special": true},
        {"id": 1, "content": "<s>", "special": true}, {"id": 2, "content": "</s>", "special": true}])");
    j["model"] = {{"type", "BPE"}, {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", bytes}, {"vocab", vocab},
                  {"merges", merges}};
    return j.dump();
}

// With byte tokens: ▁ 259, a 260, b 261, ▁a 262, ab 263, ▁ab 264, c 265.
const std::vector<std::string> kLlamaExtra = {"▁", "a", "b", "▁a", "ab", "▁ab", "c"};
const std::vector<std::string> kLlamaMerges = {"a b", "▁ a", "▁ ab"};

// ---- GGUF metadata in memory ----

void put(std::vector<std::byte>& b, const void* p, std::size_t n)
{
    b.insert(b.end(), static_cast<const std::byte*>(p), static_cast<const std::byte*>(p) + n);
}
void putString(std::vector<std::byte>& b, const std::string& s)
{
    const std::uint64_t n = s.size();
    put(b, &n, 8);
    put(b, s.data(), s.size());
}
void putU32(std::vector<std::byte>& b, std::uint32_t v) { put(b, &v, 4); }

struct GgufBuilder {
    std::vector<std::byte> body;
    std::uint64_t count = 0;
    void string(const std::string& key, const std::string& v)
    {
        putString(body, key);
        putU32(body, 8);
        putString(body, v);
        ++count;
    }
    void u32(const std::string& key, std::uint32_t v)
    {
        putString(body, key);
        putU32(body, 4);
        putU32(body, v);
        ++count;
    }
    void strings(const std::string& key, const std::vector<std::string>& v)
    {
        putString(body, key);
        putU32(body, 9);
        putU32(body, 8);
        const std::uint64_t n = v.size();
        put(body, &n, 8);
        for (const auto& s : v)
            putString(body, s);
        ++count;
    }
    void ints(const std::string& key, const std::vector<std::int32_t>& v)
    {
        putString(body, key);
        putU32(body, 9);
        putU32(body, 5);
        const std::uint64_t n = v.size();
        put(body, &n, 8);
        put(body, v.data(), v.size() * 4);
        ++count;
    }
    void floats(const std::string& key, const std::vector<float>& v)
    {
        putString(body, key);
        putU32(body, 9);
        putU32(body, 6);
        const std::uint64_t n = v.size();
        put(body, &n, 8);
        put(body, v.data(), v.size() * 4);
        ++count;
    }
    GgufFile file(const std::string& source) const
    {
        auto bytes = std::make_shared<std::vector<std::byte>>();
        put(*bytes, "GGUF", 4);
        putU32(*bytes, 3);
        const std::uint64_t tensors = 0;
        put(*bytes, &tensors, 8);
        put(*bytes, &count, 8);
        bytes->insert(bytes->end(), body.begin(), body.end());
        return GgufFile::parse(bytes, std::span<const std::byte>(bytes->data(), bytes->size()), source);
    }
};

/// The tokens and merges of tinyGpt2() as GGUF metadata.
void addGpt2Vocabulary(GgufBuilder& g)
{
    std::vector<std::string> tokens;
    for (char32_t c : gpt2ByteToUnicode())
        tokens.push_back(utf8(c));
    tokens.insert(tokens.end(), kExtra.begin(), kExtra.end());
    g.strings("tokenizer.ggml.tokens", tokens);
    g.strings("tokenizer.ggml.merges", {"l l", "h e", "ll o", "he llo", "\xC4\xA0 w", "l o"});
}

QString errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const Error& e) {
        return QString::fromStdString(e.what());
    }
    return "(no error)";
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
private slots:
    void byteTableIsGpt2s();
    void preTokenizerSplitsAsGpt2Regex_data();
    void preTokenizerSplitsAsGpt2Regex();
    void llamaPreTokenizersSplit_data();
    void llamaPreTokenizersSplit();
    void huggingFaceSplitPreTokenizers_data();
    void huggingFaceSplitPreTokenizers();
    void ggufLlamaAndQwenPreTokenizers_data();
    void ggufLlamaAndQwenPreTokenizers();
    void byteLevelMergesByRank_data();
    void byteLevelMergesByRank();
    void invalidUtf8IsEncodedByteWise();
    void sentencePieceMergesAndFallsBackToBytes_data();
    void sentencePieceMergesAndFallsBackToBytes();
    void unknownCharactersWithoutByteTokensFuseToUnk();
    void sentencePieceExportsAsGgufVocabulary();
    void addedTokensAsTokensOrText();
    void ggufLlamaMergesByScore_data();
    void ggufLlamaMergesByScore();
    void ggufGpt2UsesItsMerges();
    void ggufGpt2RefusesOtherPreTokenizers_data();
    void ggufGpt2RefusesOtherPreTokenizers();
    void refusesHostileFiles_data();
    void refusesHostileFiles();
    void refusesIdsOutOfRangeInDecode();
};

void TestTokenizer::byteTableIsGpt2s()
{
    const auto& table = gpt2ByteToUnicode();
    const auto reference = referenceByteTable();
    for (int b = 0; b < 256; ++b)
        QCOMPARE(static_cast<std::uint32_t>(table[static_cast<std::size_t>(b)]), static_cast<std::uint32_t>(reference[static_cast<std::size_t>(b)]));
    // Landmarks every GPT-2 vocabulary shows: space is "Ġ", newline "Ċ", byte 0 "Ā".
    QCOMPARE(static_cast<std::uint32_t>(table[' ']), 0x120u);
    QCOMPARE(static_cast<std::uint32_t>(table['\n']), 0x10Au);
    QCOMPARE(static_cast<std::uint32_t>(table[0]), 0x100u);
    QCOMPARE(static_cast<std::uint32_t>(table['A']), static_cast<std::uint32_t>('A'));
    QCOMPARE(static_cast<std::uint32_t>(table[0xAD]), 0x143u); // soft hyphen, the last non-printable
}

void TestTokenizer::preTokenizerSplitsAsGpt2Regex_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QStringList>("pieces");
    const auto row = [](const char* name, const char* text, QStringList pieces) {
        QTest::newRow(name) << QByteArray(text) << pieces;
    };
    row("words", "Hello world", {"Hello", " world"});
    row("contractions", "I'm don't they'll we've she'd you're it's",
        {"I", "'m", " don", "'t", " they", "'ll", " we", "'ve", " she", "'d", " you", "'re", " it", "'s"});
    row("contraction before letters", "'steal", {"'s", "teal"});
    row("upper-case contraction", "DON'T", {"DON", "'", "T"});
    row("apostrophes after spaces", " '  'll", {" '", " ", " '", "ll"});
    row("letters and digits", "abc123def", {"abc", "123", "def"});
    row("leading space joins digits", " 42 apples", {" 42", " apples"});
    row("punctuation", "hello!!! ?? x", {"hello", "!!!", " ??", " x"});
    row("decimal", "3.14", {"3", ".", "14"});
    row("space run leaves one space", "a   b", {"a", "  ", " b"});
    row("trailing spaces stay together", "end   ", {"end", "   "});
    row("newlines", "x\n\ny", {"x", "\n", "\n", "y"});
    row("tab then space", "\t x", {"\t", " x"});
    row("unicode letters", "café 日本語 😀", {"café", " 日本語", " 😀"});
    row("no-break space is white space", "a\u00a0b", {"a", "\u00a0", "b"});
    row("byte order mark is white space", "x \ufeffy", {"x", " ", "\ufeff", "y"});
    row("NEL is not white space in JavaScript", "a\u0085b", {"a", "\u0085", "b"});
    row("other numbers", "½²٣", {"½²٣"});
    row("empty", "", {});
}

void TestTokenizer::preTokenizerSplitsAsGpt2Regex()
{
    QFETCH(QByteArray, text);
    QFETCH(QStringList, pieces);
    QStringList got;
    for (std::string_view p : gpt2PreTokenize(std::string_view(text.constData(), static_cast<std::size_t>(text.size()))))
        got << QString::fromUtf8(p.data(), static_cast<qsizetype>(p.size()));
    QCOMPARE(got, pieces);
}

void TestTokenizer::llamaPreTokenizersSplit_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<QStringList>("llama3");
    QTest::addColumn<QStringList>("qwen2");
    const auto row = [](const char* name, const char* text, QStringList llama3, QStringList qwen2) {
        QTest::newRow(name) << QByteArray(text) << llama3 << qwen2;
    };
    const auto same = [&](const char* name, const char* text, QStringList pieces) { row(name, text, pieces, pieces); };
    same("words", "Hello world", {"Hello", " world"});
    row("digits in threes, or one by one", "12345", {"123", "45"}, {"1", "2", "3", "4", "5"});
    row("digits between letters", "abc1234567def", {"abc", "123", "456", "7", "def"},
        {"abc", "1", "2", "3", "4", "5", "6", "7", "def"});
    // A space never joins digits (GPT-2's " 42" is one word).
    row("space before digits", "a 42", {"a", " ", "42"}, {"a", " ", "4", "2"});
    row("spaces before digits", "a   1", {"a", "  ", " ", "1"}, {"a", "  ", " ", "1"});
    // (?i:...): upper-case contractions too; letters after a contraction start a new word.
    same("upper-case contraction", "DON'T", {"DON", "'T"});
    same("contraction then letters", "HE'LLO IT'SELF x'REally", {"HE", "'LL", "O", " IT", "'S", "ELF", " x", "'RE", "ally"});
    // After a space the apostrophe is punctuation: " ?[^\s\p{L}\p{N}]+" takes it before a
    // contraction or the letters could.
    same("lower-case contractions", "they'll've 'twas", {"they", "'ll", "'ve", " '", "twas"});
    same("apostrophe without contraction", "'x 'q", {"'x", " '", "q"});
    // One character that is no newline, letter or digit joins the letters after it.
    same("punctuation before letters", "!hello", {"!hello"});
    same("punctuation run before letters", "...hello", {"...", "hello"});
    same("tab before letters", "\thello", {"\thello"});
    same("newline before letters", "\nhello", {"\n", "hello"});
    same("space and punctuation", "a ?!b", {"a", " ?!", "b"});
    // Punctuation takes the newlines after it; a run of white space with newlines ends after its
    // last newline.
    same("punctuation then newlines", "hi!\n\nthere", {"hi", "!\n\n", "there"});
    same("newline run", "a\n\nb", {"a", "\n\n", "b"});
    same("CR LF run", "a\r\n\r\nb", {"a", "\r\n\r\n", "b"});
    same("spaces before a newline", "a  \n  b", {"a", "  \n", " ", " b"});
    same("space before a final newline", "end \n", {"end", " \n"});
    same("spaces and tabs between newlines", "x\n \t\n\t y", {"x", "\n \t\n", "\t", " y"});
    same("space run leaves one space", "a   b", {"a", "  ", " b"});
    same("trailing spaces stay together", "end   ", {"end", "   "});
    same("lone final space", "a ", {"a", " "});
    // Unicode's letters and numbers (½ and Arabic-Indic digits are \p{N}); a combining mark is
    // neither letter nor digit (Qwen 3.5's regex differs there).
    row("non-ASCII letters and numbers", "café ½ ٣٤٥٦ 日本語", {"café", " ", "½", " ", "٣٤٥", "٦", " 日本語"},
        {"café", " ", "½", " ", "٣", "٤", "٥", "٦", " 日本語"});
    same("combining mark", "nai\u0308ve", {"nai", "\u0308ve"});
    same("emoji", "😶‍🌫️ 🦙🦙", {"😶‍🌫️", " 🦙🦙"});
    // \s is Unicode's White_Space: NEL is white space, the byte order mark is not.
    same("NEL is white space", "!\u0085!", {"!", "\u0085", "!"});
    same("byte order mark is not white space", "!\ufeff!", {"!\ufeff!"});
    same("ideographic space", "a\u3000\u3000b", {"a", "\u3000", "\u3000b"});
    same("empty", "", {});
}

void TestTokenizer::llamaPreTokenizersSplit()
{
    QFETCH(QByteArray, text);
    QFETCH(QStringList, llama3);
    QFETCH(QStringList, qwen2);
    const std::string_view s(text.constData(), static_cast<std::size_t>(text.size()));
    const auto pieces = [](const std::vector<std::string_view>& list) {
        QStringList out;
        for (std::string_view p : list)
            out << QString::fromUtf8(p.data(), static_cast<qsizetype>(p.size()));
        return out;
    };
    QCOMPARE(pieces(llama3PreTokenize(s)), llama3);
    QCOMPARE(pieces(qwen2PreTokenize(s)), qwen2);
}

namespace {

// Byte symbols are ids 0..255; then 256 "he", 257 "ll", 258 "hello", 259 "123". The only merges
// are "h e" and "l l", so "hello" and "123" are reached only by ignore_merges.
const std::vector<std::string> kIgnoreExtra = {"he", "ll", "hello", "123"};

// Llama 3's pre_tokenizer as its tokenizer.json spells it.
const char* kLlama3PreTokenizer = R"json({"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": false},
    {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]})json";

/// A tokenizer.json of Llama 3's form (or Qwen2's: `regex` replaced) on the vocabulary above.
std::string splitJson(bool ignoreMerges, const std::string& regexFrom = "", const std::string& regexTo = "",
                      const char* normalizer = "null")
{
    nlohmann::json j;
    j["version"] = "1.0";
    j["normalizer"] = nlohmann::json::parse(normalizer);
    j["pre_tokenizer"] = nlohmann::json::parse(kLlama3PreTokenizer);
    if (!regexFrom.empty()) {
        std::string& regex = j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"].get_ref<std::string&>();
        regex.replace(regex.find(regexFrom), regexFrom.size(), regexTo);
    }
    j["model"] = {{"type", "BPE"}, {"ignore_merges", ignoreMerges}, {"vocab", nlohmann::json::parse(byteVocab(kIgnoreExtra))},
                  {"merges", {"h e", "l l"}}};
    return j.dump();
}

} // namespace

void TestTokenizer::huggingFaceSplitPreTokenizers_data()
{
    QTest::addColumn<QString>("json");
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<int>("pre");
    QTest::addColumn<Ids>("ids");
    const int llama3 = static_cast<int>(Tokenizer::PreTokenizer::Llama3), qwen2 = static_cast<int>(Tokenizer::PreTokenizer::Qwen2);
    const auto json = [](const std::string& j) { return QString::fromStdString(j); };
    // "hello" and "123" are tokens: taken whole; "45" has no token and no merge.
    QTest::newRow("Llama 3, ignore_merges") << json(splitJson(true)) << QByteArray("hello 12345") << llama3
                                            << Ids{258, ' ', 259, '4', '5'};
    QTest::newRow("Llama 3, merges") << json(splitJson(false)) << QByteArray("hello 12345") << llama3
                                     << Ids{256, 257, 'o', ' ', '1', '2', '3', '4', '5'};
    // One digit a word: "123" is never a word.
    QTest::newRow("Qwen2, ignore_merges") << json(splitJson(true, "\\p{N}{1,3}", "\\p{N}")) << QByteArray("hello 12345") << qwen2
                                          << Ids{258, ' ', '1', '2', '3', '4', '5'};
    // NFC: "e" + U+0301 becomes "é" (0xC3 0xA9); without it the mark is a word of its own.
    QTest::newRow("Qwen2, NFC") << json(splitJson(false, "\\p{N}{1,3}", "\\p{N}", R"({"type": "NFC"})"))
                                << QByteArray("e\xCC\x81") << qwen2 << Ids{0xC3, 0xA9};
    QTest::newRow("Qwen2, no normalizer") << json(splitJson(false, "\\p{N}{1,3}", "\\p{N}")) << QByteArray("e\xCC\x81") << qwen2
                                          << Ids{'e', 0xCC, 0x81};
}

void TestTokenizer::huggingFaceSplitPreTokenizers()
{
    QFETCH(QString, json);
    QFETCH(QByteArray, text);
    QFETCH(int, pre);
    QFETCH(Ids, ids);
    const Tokenizer tok = Tokenizer::fromHuggingFaceJson(json.toStdString(), "tokenizer.json");
    QCOMPARE(tok.kind(), Tokenizer::Kind::ByteLevelBpe);
    QCOMPARE(static_cast<int>(tok.preTokenizer()), pre);
    const std::string s(text.constData(), static_cast<std::size_t>(text.size()));
    QCOMPARE(tok.encode(s), ids);
    if (!QByteArray(QTest::currentDataTag()).contains("NFC"))
        QCOMPARE(tok.decode(ids), s);
}

void TestTokenizer::ggufLlamaAndQwenPreTokenizers_data()
{
    QTest::addColumn<QString>("pre");
    QTest::addColumn<int>("kind");
    QTest::addColumn<bool>("ignoresMerges");
    QTest::addColumn<Ids>("ids");
    const int gpt2 = static_cast<int>(Tokenizer::PreTokenizer::Gpt2), llama3 = static_cast<int>(Tokenizer::PreTokenizer::Llama3),
              qwen2 = static_cast<int>(Tokenizer::PreTokenizer::Qwen2);
    // llama.cpp ignores merges for its Llama 3 names only.
    const Ids whole = {258, ' ', 259, '4', '5'}, merged = {256, 257, 'o', ' ', '1', '2', '3', '4', '5'};
    QTest::newRow("llama-bpe") << "llama-bpe" << llama3 << true << whole;
    QTest::newRow("llama3") << "llama3" << llama3 << true << whole;
    QTest::newRow("qwen2") << "qwen2" << qwen2 << false << merged;
    QTest::newRow("deepseek-r1-qwen") << "deepseek-r1-qwen" << qwen2 << false << merged;
    QTest::newRow("gpt-2") << "gpt-2" << gpt2 << false << merged;
}

void TestTokenizer::ggufLlamaAndQwenPreTokenizers()
{
    QFETCH(QString, pre);
    QFETCH(int, kind);
    QFETCH(bool, ignoresMerges);
    QFETCH(Ids, ids);
    GgufBuilder g;
    g.string("tokenizer.ggml.model", "gpt2");
    g.string("tokenizer.ggml.pre", pre.toStdString());
    std::vector<std::string> tokens;
    for (char32_t c : gpt2ByteToUnicode())
        tokens.push_back(utf8(c));
    tokens.insert(tokens.end(), kIgnoreExtra.begin(), kIgnoreExtra.end());
    g.strings("tokenizer.ggml.tokens", tokens);
    g.strings("tokenizer.ggml.merges", {"h e", "l l"});
    const Tokenizer tok = Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    QCOMPARE(static_cast<int>(tok.preTokenizer()), kind);
    QCOMPARE(tok.ignoresMerges(), ignoresMerges);
    QCOMPARE(tok.encode("hello 12345"), ids);
}

void TestTokenizer::byteLevelMergesByRank_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<Ids>("ids");
    // "hello": l l (rank 0) -> h e (1) -> ll o (2) -> he llo (3); "lo" (rank 5) never gets a turn.
    QTest::newRow("ranks") << QByteArray("hello") << Ids{259};
    QTest::newRow("no merge with Ġ before h") << QByteArray(" hello") << Ids{' ', 259};
    QTest::newRow("Ġw") << QByteArray(" world") << Ids{260, 'o', 'r', 'l', 'd'};
    QTest::newRow("lower rank elsewhere") << QByteArray("lol") << Ids{261, 'l'};
    QTest::newRow("equal ranks merge leftmost first") << QByteArray("lll") << Ids{257, 'l'};
    QTest::newRow("two-byte character") << QByteArray("é") << Ids{0xC3, 0xA9};
    QTest::newRow("sentence") << QByteArray("hello lol\n") << Ids{259, ' ', 261, 'l', '\n'};
}

void TestTokenizer::byteLevelMergesByRank()
{
    QFETCH(QByteArray, text);
    QFETCH(Ids, ids);
    const Tokenizer tok = tinyGpt2();
    QCOMPARE(tok.kind(), Tokenizer::Kind::ByteLevelBpe);
    QCOMPARE(tok.vocabSize(), 262);
    const std::string s(text.constData(), static_cast<std::size_t>(text.size()));
    QCOMPARE(tok.encode(s), ids);
    QCOMPARE(tok.decode(ids), s);
}

void TestTokenizer::invalidUtf8IsEncodedByteWise()
{
    const Tokenizer tok = tinyGpt2();
    const std::string s = "he\xFF\xC3llo \xE2\x82"; // a stray byte, a cut sequence, a truncated end
    const Ids ids = tok.encode(s);
    QCOMPARE(ids, (Ids{256, 0xFF, 0xC3, 258, ' ', 0xE2, 0x82}));
    QCOMPARE(tok.decode(ids), s);
}

void TestTokenizer::sentencePieceMergesAndFallsBackToBytes_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::addColumn<Ids>("ids");
    // "▁ab": a b (rank 0) before ▁ a (1), then ▁ ab (2).
    QTest::newRow("ranks") << QByteArray("ab") << Ids{264};
    QTest::newRow("spaces") << QByteArray("a c") << Ids{262, 259, 265};
    QTest::newRow("byte fallback") << QByteArray("é") << Ids{259, 3 + 0xC3, 3 + 0xA9};
    QTest::newRow("leading space") << QByteArray(" b") << Ids{259, 259, 261};
    QTest::newRow("empty") << QByteArray("") << Ids{};
}

void TestTokenizer::sentencePieceMergesAndFallsBackToBytes()
{
    QFETCH(QByteArray, text);
    QFETCH(Ids, ids);
    const Tokenizer tok = Tokenizer::fromHuggingFaceJson(llamaJson(kLlamaExtra, kLlamaMerges, true), "tokenizer.json");
    QCOMPARE(tok.kind(), Tokenizer::Kind::SentencePieceBpe);
    QCOMPARE(tok.special().bos, std::optional<std::int32_t>(1));
    QCOMPARE(tok.special().eos, std::optional<std::int32_t>(2));
    QCOMPARE(tok.special().unk, std::optional<std::int32_t>(0));
    const std::string s(text.constData(), static_cast<std::size_t>(text.size()));
    QCOMPARE(tok.encode(s), ids);
    QCOMPARE(tok.decode(ids), s);
}

void TestTokenizer::sentencePieceExportsAsGgufVocabulary()
{
    // tokenizer.json's merges become scores for llama.cpp's merge-by-score: each merged token scores
    // minus the rank of its merge, so that the best-scoring pair is the best-ranked merge.
    const Tokenizer tok = Tokenizer::fromHuggingFaceJson(llamaJson(kLlamaExtra, kLlamaMerges, true), "tokenizer.json");
    const auto meta = tok.ggufVocabulary("tokenizer.json");
    const auto get = [&](const std::string& key) -> const GgufValue& {
        const auto it = std::find_if(meta.begin(), meta.end(), [&](const auto& e) { return e.first == key; });
        if (it == meta.end())
            qFatal("no %s", key.c_str());
        return it->second;
    };
    QCOMPARE(std::get<std::string>(get("tokenizer.ggml.model").value), std::string("llama"));
    QVERIFY(std::none_of(meta.begin(), meta.end(), [](const auto& e) { return e.first == "tokenizer.ggml.pre"; }));
    const auto& scores = std::get<std::vector<GgufValue>>(get("tokenizer.ggml.scores").value);
    const auto& types = std::get<std::vector<GgufValue>>(get("tokenizer.ggml.token_type").value);
    QCOMPARE(scores.size(), std::size_t(266));
    const auto score = [&](int id) { return std::get<double>(scores[static_cast<std::size_t>(id)].value); };
    QCOMPARE(score(263), 0.0);  // ab: "a b", rank 0
    QCOMPARE(score(262), -1.0); // ▁a: "▁ a", rank 1
    QCOMPARE(score(264), -2.0); // ▁ab: "▁ ab", rank 2
    QCOMPARE(score(260), 0.0);  // a: made by no merge
    const auto type = [&](int id) { return types[static_cast<std::size_t>(id)].toUInt("type"); };
    QCOMPARE(type(0), 2u);   // <unk>: unknown
    QCOMPARE(type(1), 3u);   // <s>: control
    QCOMPARE(type(3), 6u);   // <0x00>: byte
    QCOMPARE(type(258), 6u); // <0xFF>
    QCOMPARE(type(259), 1u); // ▁: normal
    QCOMPARE(get("tokenizer.ggml.unknown_token_id").toUInt("unk"), 0u);
    QCOMPARE(std::get<std::uint64_t>(get("tokenizer.ggml.add_space_prefix").value), std::uint64_t(1)); // true

    // Read back as llama.cpp reads it: the same ids, merged by score instead of by rank.
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    GgufWriter w;
    for (const auto& [key, value] : meta)
        w.set(key, value);
    const std::string path = dir.filePath("vocabulary.gguf").toStdString();
    w.write(path, [](std::size_t, std::byte*) {});
    const Tokenizer back = Tokenizer::fromGguf(GgufFile::open(path), path);
    for (const char* text : {"ab", "abab a b", " a  ab\nc", "aab abc", "caf\xC3\xA9 \xE2\x82\xAC", ""})
        QCOMPARE(back.encode(text), tok.encode(text));

    // Without byte fallback llama.cpp would fall back to bytes all the same: refused.
    const Tokenizer noBytes = Tokenizer::fromHuggingFaceJson(llamaJson(kLlamaExtra, kLlamaMerges, false), "t.json");
    try {
        noBytes.ggufVocabulary("t.json");
        QFAIL("accepted");
    } catch (const UnsupportedError& e) {
        QVERIFY2(QString(e.what()).startsWith("t.json: GGUF export of a SentencePiece vocabulary without byte_fallback"), e.what());
    }
}

void TestTokenizer::unknownCharactersWithoutByteTokensFuseToUnk()
{
    // ▁ 3, a 4, b 5; no byte tokens: "é" and "ü" are unknown, and neighbouring unknowns fuse.
    const Tokenizer tok = Tokenizer::fromHuggingFaceJson(llamaJson({"▁", "a", "b"}, {}, false), "tokenizer.json");
    QCOMPARE(tok.encode("aéüb"), (Ids{3, 4, 0, 5}));
    QCOMPARE(tok.encode("é a"), (Ids{3, 0, 3, 4}));
}

void TestTokenizer::addedTokensAsTokensOrText()
{
    const Tokenizer spm = Tokenizer::fromHuggingFaceJson(llamaJson(kLlamaExtra, kLlamaMerges, true), "tokenizer.json");
    // "a" -> ▁a; <s>; "b" -> ▁ b (each piece gets its ▁); </s>; nothing after.
    QCOMPARE(spm.encode("a<s>b</s>", Tokenizer::AddedTokens::AsTokens), (Ids{262, 1, 259, 261, 2}));
    // As text, "<s>" is three characters with no tokens: bytes.
    QCOMPARE(spm.encode("<s>"), (Ids{259, 3 + '<', 3 + 's', 3 + '>'}));
    // GPT-2's end of text, 262 here, next to "hello" (259) and a near miss.
    std::vector<std::string> extra = kExtra;
    extra.push_back("<|endoftext|>");
    const Tokenizer gpt2 = Tokenizer::fromGpt2(byteVocab(extra), kMerges, "vocab.json", "merges.txt");
    QCOMPARE(gpt2.special().eos, std::optional<std::int32_t>(262));
    QCOMPARE(gpt2.encode("hello<|endoftext|><|endoftext|>hello", Tokenizer::AddedTokens::AsTokens), (Ids{259, 262, 262, 259}));
    QCOMPARE(gpt2.encode("<|endoftext|", Tokenizer::AddedTokens::AsTokens), gpt2.encode("<|endoftext|"));
    const Ids asText = gpt2.encode("<|endoftext|>");
    QCOMPARE(std::count(asText.begin(), asText.end(), 262), 0);
    QCOMPARE(gpt2.decode(asText), std::string("<|endoftext|>"));
    // An added token with a Latin-1 letter decodes as its text, not as byte 0xE9.
    auto j = nlohmann::json::parse(R"({"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "merges": []},
        "added_tokens": [{"id": 256, "content": "<café>", "special": true}]})");
    j["model"]["vocab"] = nlohmann::json::parse(byteVocab({}));
    const Tokenizer hf = Tokenizer::fromHuggingFaceJson(j.dump(), "tokenizer.json");
    QCOMPARE(hf.vocabSize(), 257);
    QCOMPARE(hf.encode("a<café>", Tokenizer::AddedTokens::AsTokens), (Ids{'a', 256}));
    QCOMPARE(hf.decode({'a', 256}), std::string("a<café>"));
}

void TestTokenizer::ggufLlamaMergesByScore_data()
{
    QTest::addColumn<float>("scoreOfSpaceA");
    QTest::addColumn<Ids>("ids");
    // Tokens: <unk> <s> </s> ▁ a b ▁a ab <0xC3> <0xA9>; "ab" scores -0.5. The better-scored pair of
    // "▁ab" merges first, and no "▁ab" token joins the rest.
    QTest::newRow("ab first") << -1.0f << Ids{3, 7};
    QTest::newRow("▁a first") << -0.1f << Ids{6, 5};
}

void TestTokenizer::ggufLlamaMergesByScore()
{
    QFETCH(float, scoreOfSpaceA);
    QFETCH(Ids, ids);
    GgufBuilder g;
    g.string("tokenizer.ggml.model", "llama");
    g.strings("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>", "▁", "a", "b", "▁a", "ab", "<0xC3>", "<0xA9>"});
    g.floats("tokenizer.ggml.scores", {0, 0, 0, -2, -3, -3, scoreOfSpaceA, -0.5f, 0, 0});
    g.ints("tokenizer.ggml.token_type", {2, 3, 3, 1, 1, 1, 1, 1, 6, 6}); // unknown, control x2, normal, bytes
    g.u32("tokenizer.ggml.bos_token_id", 1);
    g.u32("tokenizer.ggml.eos_token_id", 2);
    g.u32("tokenizer.ggml.unknown_token_id", 0);
    const Tokenizer tok = Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    QCOMPARE(tok.special().bos, std::optional<std::int32_t>(1));
    QCOMPARE(tok.encode("ab"), ids);
    QCOMPARE(tok.decode(ids), std::string("ab"));
    QCOMPARE(tok.encode("é"), (Ids{3, 8, 9}));
    QCOMPARE(tok.decode({3, 8, 9}), std::string("é"));
    // Control tokens are added tokens: "</s>" is taken as one when asked.
    QCOMPARE(tok.encode("a</s>", Tokenizer::AddedTokens::AsTokens), (Ids{6, 2}));
}

void TestTokenizer::ggufGpt2UsesItsMerges()
{
    GgufBuilder g;
    g.string("tokenizer.ggml.model", "gpt2");
    g.string("tokenizer.ggml.pre", "gpt-2");
    addGpt2Vocabulary(g);
    const Tokenizer tok = Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    QCOMPARE(tok.encode("hello world lll"), (Ids{259, 260, 'o', 'r', 'l', 'd', ' ', 257, 'l'}));
}

void TestTokenizer::ggufGpt2RefusesOtherPreTokenizers_data()
{
    QTest::addColumn<QString>("pre"); // "(none)": the key is absent; "(u32)": not a string
    QTest::addColumn<QString>("message");
    const QString tail = " is not supported (GPT-2's, Llama 3's and Qwen2's pre-tokenizers only: 'gpt-2', 'llama-bpe', "
                         "'qwen2' and their other llama.cpp names)";
    // llama.cpp reads both as its "default" pre-tokenizer, which splits "333333" into "333" "333"
    // where GPT-2's regex keeps one word: Leger used to take them as GPT-2's.
    QTest::newRow("absent") << "(none)" << "m.gguf: tokenizer.ggml.pre: missing, i.e. llama.cpp's 'default' pre-tokenizer, which" + tail;
    QTest::newRow("default") << "default" << "m.gguf: tokenizer.ggml.pre 'default'" + tail;
    // Not a name llama.cpp knows (it refuses the file).
    QTest::newRow("gpt2") << "gpt2" << "m.gguf: tokenizer.ggml.pre 'gpt2'" + tail;
    // Qwen 3.5's letter runs take combining marks; DeepSeek's has other regexes.
    QTest::newRow("qwen35") << "qwen35" << "m.gguf: tokenizer.ggml.pre 'qwen35'" + tail;
    QTest::newRow("deepseek-llm") << "deepseek-llm" << "m.gguf: tokenizer.ggml.pre 'deepseek-llm'" + tail;
    QTest::newRow("not a string") << "(u32)" << "m.gguf: tokenizer.ggml.pre: not a string, which" + tail;
}

void TestTokenizer::ggufGpt2RefusesOtherPreTokenizers()
{
    QFETCH(QString, pre);
    QFETCH(QString, message);
    GgufBuilder g;
    g.string("tokenizer.ggml.model", "gpt2");
    if (pre == "(u32)")
        g.u32("tokenizer.ggml.pre", 2);
    else if (pre != "(none)")
        g.string("tokenizer.ggml.pre", pre.toStdString());
    addGpt2Vocabulary(g);
    const GgufFile file = g.file("m.gguf");
    try {
        Tokenizer::fromGguf(file, "m.gguf");
        QFAIL("accepted");
    } catch (const UnsupportedError& e) {
        QCOMPARE(QString::fromStdString(e.what()), message);
    }
}

void TestTokenizer::refusesHostileFiles_data()
{
    QTest::addColumn<std::function<void()>>("load");
    QTest::addColumn<QString>("message");
    const auto gpt2 = [](std::string vocab, std::string merges) -> std::function<void()> {
        return [=] { Tokenizer::fromGpt2(vocab, merges, "vocab.json", "merges.txt"); };
    };
    QTest::newRow("malformed JSON") << gpt2("{\"a\": 0", "") << "vocab.json: not valid JSON (";
    QTest::newRow("not an object") << gpt2("[1, 2]", "") << "vocab.json: vocabulary: expected an object of token ids";
    QTest::newRow("id not an integer") << gpt2(R"({"a": "x"})", "")
                                       << "vocab.json: vocabulary: token 'a' has id \"x\", expected an integer in 0..16777215";
    QTest::newRow("huge id") << gpt2(R"({"a": 4000000000})", "")
                             << "vocab.json: vocabulary: token 'a' has id 4000000000, expected an integer in 0..16777215";
    QTest::newRow("two tokens, one id") << gpt2(R"({"a": 0, "b": 0})", "") << "vocab.json: vocabulary: tokens 'a' and 'b' both have id 0";
    QTest::newRow("gap") << gpt2(R"({"a": 0, "b": 2})", "")
                         << "vocab.json: vocabulary: no token has id 1 (ids must run from 0 without gaps)";
    QTest::newRow("missing byte symbol") << gpt2(R"({"a": 0})", "") << "vocab.json: the vocabulary lacks the symbol 'Ā' of byte 0x00";
    QTest::newRow("merge of unknown token") << gpt2(byteVocab({}), "#version: 0.2\nh zz\n")
                                            << "merges.txt: merge 0 ('h zz'): 'zz' is not in the vocabulary";
    QTest::newRow("merged token unknown") << gpt2(byteVocab({}), "h e\n")
                                          << "merges.txt: merge 0 ('h e'): the merged token 'he' is not in the vocabulary";
    QTest::newRow("three tokens on a line") << gpt2(byteVocab({"he"}), "#version: 0.2\nh e x\n")
                                            << "merges.txt: line 2: expected two tokens separated by one space, got 'h e x'";
    QTest::newRow("repeated merge") << gpt2(byteVocab({"he"}), "h e\nh e\n") << "merges.txt: merge 1 ('h e') repeats merge 0";
    QTest::newRow("unigram model") << std::function<void()>([] {
        Tokenizer::fromHuggingFaceJson(R"({"model": {"type": "Unigram", "vocab": []}})", "t.json");
    }) << "t.json: model.type 'Unigram' is not supported (BPE only)";
    QTest::newRow("added token contradicts vocab") << std::function<void()>([] {
        auto j = nlohmann::json::parse(llamaJson(kLlamaExtra, kLlamaMerges, true));
        j["added_tokens"][1]["id"] = 2;
        Tokenizer::fromHuggingFaceJson(j.dump(), "t.json");
    }) << "t.json: added_tokens: '<s>' has id 2, which is '</s>' in model.vocab";
    QTest::newRow("merge not two strings") << std::function<void()>([] {
        auto j = nlohmann::json::parse(llamaJson(kLlamaExtra, kLlamaMerges, true));
        j["model"]["merges"][1] = 7;
        Tokenizer::fromHuggingFaceJson(j.dump(), "t.json");
    }) << "t.json: model.merges[1]: expected \"a b\" or [\"a\", \"b\"], got 7";
    QTest::newRow("wrong JSON type") << std::function<void()>([] {
        auto j = nlohmann::json::parse(llamaJson(kLlamaExtra, kLlamaMerges, true));
        j["normalizer"]["normalizers"][0] = 5;
        Tokenizer::fromHuggingFaceJson(j.dump(), "t.json");
    }) << "t.json: unexpected JSON structure (";
    QTest::newRow("other Split regex") << std::function<void()>([] {
        Tokenizer::fromHuggingFaceJson(splitJson(false, "\\p{N}{1,3}", "\\p{N}{1,2}"), "t.json");
    }) << "t.json: pre_tokenizer: Split pattern '(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,2}| "
          "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+' is not supported (Llama 3's or Qwen2's regex only)";
    QTest::newRow("Split removing matches") << std::function<void()>([] {
        auto j = nlohmann::json::parse(splitJson(true));
        j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
        Tokenizer::fromHuggingFaceJson(j.dump(), "t.json");
    }) << "t.json: pre_tokenizer: Split behavior 'Removed' is not supported (Llama 3's or Qwen2's Sequence of a Split and a "
          "ByteLevel pre-tokenizer)";
    QTest::newRow("Split without ByteLevel") << std::function<void()>([] {
        auto j = nlohmann::json::parse(splitJson(true));
        j["pre_tokenizer"]["pretokenizers"].erase(1);
        Tokenizer::fromHuggingFaceJson(j.dump(), "t.json");
    }) << "t.json: pre_tokenizer: Sequence [Split] is not supported (Llama 3's or Qwen2's Sequence of a Split and a ByteLevel "
          "pre-tokenizer)";
    QTest::newRow("NFKC normalizer") << std::function<void()>([] {
        Tokenizer::fromHuggingFaceJson(splitJson(false, "", "", R"({"type": "NFKC"})"), "t.json");
    }) << "t.json: normalizer {\"type\":\"NFKC\"} is not supported with a Split pre-tokenizer (NFC or none)";
    QTest::newRow("gguf duplicate token") << std::function<void()>([] {
        GgufBuilder g;
        g.string("tokenizer.ggml.model", "llama");
        g.strings("tokenizer.ggml.tokens", {"<unk>", "a", "a"});
        g.floats("tokenizer.ggml.scores", {0, 0, 0});
        Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    }) << "m.gguf: token 'a' appears twice (ids 1 and 2)";
    QTest::newRow("gguf scores short") << std::function<void()>([] {
        GgufBuilder g;
        g.string("tokenizer.ggml.model", "llama");
        g.strings("tokenizer.ggml.tokens", {"<unk>", "a"});
        g.floats("tokenizer.ggml.scores", {0});
        Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    }) << "m.gguf: tokenizer.ggml.scores: 1 scores for 2 tokens";
    QTest::newRow("gguf bos out of range") << std::function<void()>([] {
        GgufBuilder g;
        g.string("tokenizer.ggml.model", "llama");
        g.strings("tokenizer.ggml.tokens", {"<unk>", "a"});
        g.floats("tokenizer.ggml.scores", {0, 0});
        g.u32("tokenizer.ggml.bos_token_id", 5);
        Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    }) << "m.gguf: tokenizer.ggml.bos_token_id: 5 is out of range (vocabulary of 2)";
    QTest::newRow("gguf without vocabulary") << std::function<void()>([] {
        GgufBuilder g;
        g.u32("general.alignment", 32);
        Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    }) << "m.gguf: tokenizer.ggml.model: missing (the file has no vocabulary)";
    QTest::newRow("gguf unknown model") << std::function<void()>([] {
        GgufBuilder g;
        g.string("tokenizer.ggml.model", "bert");
        Tokenizer::fromGguf(g.file("m.gguf"), "m.gguf");
    }) << "m.gguf: tokenizer.ggml.model 'bert' is not supported (gpt2 or llama)";
}

void TestTokenizer::refusesHostileFiles()
{
    QFETCH(std::function<void()>, load);
    QFETCH(QString, message);
    const QString got = errorOf(load);
    if (message.endsWith('('))
        QVERIFY2(got.startsWith(message), qPrintable(got));
    else
        QCOMPARE(got, message);
}

void TestTokenizer::refusesIdsOutOfRangeInDecode()
{
    const Tokenizer tok = tinyGpt2();
    QCOMPARE(errorOf([&] { tok.decode({259, 262}); }), QString("decode: id 262 out of range (vocabulary of 262)"));
    QCOMPARE(errorOf([&] { tok.decode({-1}); }), QString("decode: id -1 out of range (vocabulary of 262)"));
    QCOMPARE(errorOf([&] { tok.tokenText(1000); }), QString("token id 1000 out of range"));
}

QTEST_GUILESS_MAIN(TestTokenizer)
#include "tst_tokenizer.moc"
