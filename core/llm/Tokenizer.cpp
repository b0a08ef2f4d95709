#include "llm/Tokenizer.h"

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "io/GgufFile.h"
#include "io/GgufWriter.h"
#include "util/AtomicFile.h"
#include "util/Error.h"

namespace leger {

namespace {

using Json = nlohmann::json;

// Ids beyond this are refused before they size a table (the largest vocabularies are ~256k).
constexpr std::int64_t kMaxVocab = std::int64_t{1} << 24;
// Words longer than this are not cached: they rarely repeat.
constexpr std::size_t kMaxCachedWord = 256;
constexpr std::string_view kSpaceMark = "\xE2\x96\x81"; // U+2581 "▁", SentencePiece's space

[[noreturn]] void fail(const std::string& source, const std::string& what) { throw Error(source + ": " + what); }

struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

std::string utf8(char32_t c)
{
    std::string s;
    if (c < 0x80) {
        s += static_cast<char>(c);
    } else if (c < 0x800) {
        s += static_cast<char>(0xC0 | (c >> 6));
        s += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        s += static_cast<char>(0xE0 | (c >> 12));
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        s += static_cast<char>(0xF0 | (c >> 18));
        s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (c & 0x3F));
    }
    return s;
}

struct CodePoint {
    char32_t c;      // U+FFFD-like sentinel 0xFFFFFFFF when the byte is not valid UTF-8
    std::size_t len; // bytes
};
constexpr char32_t kInvalid = 0xFFFFFFFF;

/// The code point at `i` (strict UTF-8: no overlongs, surrogates or values past U+10FFFF); an
/// invalid byte is one "code point" of its own.
CodePoint decodeAt(std::string_view s, std::size_t i)
{
    const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c0 = b(i);
    if (c0 < 0x80)
        return {c0, 1};
    std::size_t n = 0;
    char32_t c = 0, min = 0;
    if ((c0 & 0xE0) == 0xC0) { n = 2; c = c0 & 0x1F; min = 0x80; }
    else if ((c0 & 0xF0) == 0xE0) { n = 3; c = c0 & 0x0F; min = 0x800; }
    else if ((c0 & 0xF8) == 0xF0) { n = 4; c = c0 & 0x07; min = 0x10000; }
    else return {kInvalid, 1};
    if (i + n > s.size())
        return {kInvalid, 1};
    for (std::size_t k = 1; k < n; ++k) {
        if ((b(i + k) & 0xC0) != 0x80)
            return {kInvalid, 1};
        c = (c << 6) | (b(i + k) & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return {kInvalid, 1};
    return {c, n};
}

enum class CharClass { Letter, Number, Space, Other };

/// JavaScript's \s (WhiteSpace and LineTerminator: the references run GPT-2's regex in JS with
/// the u flag): tab..CR, U+FEFF, U+2028/2029 and the space separators (Zs).
bool isJsSpace(char32_t c)
{
    if (c == kInvalid)
        return false;
    if ((c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0xFEFF || c == 0x2028 || c == 0x2029)
        return true;
    return c >= 0x80 && u_charType(static_cast<UChar32>(c)) == U_SPACE_SEPARATOR;
}

CharClass classOf(char32_t c)
{
    if (c == kInvalid)
        return CharClass::Other;
    if (c < 0x80) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            return CharClass::Letter;
        if (c >= '0' && c <= '9')
            return CharClass::Number;
        return isJsSpace(c) ? CharClass::Space : CharClass::Other;
    }
    const std::uint32_t mask = U_GET_GC_MASK(static_cast<UChar32>(c));
    if (mask & U_GC_L_MASK)
        return CharClass::Letter;
    if (mask & U_GC_N_MASK)
        return CharClass::Number;
    return isJsSpace(c) ? CharClass::Space : CharClass::Other;
}

/// The classes of Llama 3's and Qwen2's regexes as llama.cpp runs them (unicode.cpp): \s is
/// Unicode's White_Space, as in Hugging Face's tokenizers (U+0085 is white space, U+FEFF is not:
/// the other way round from JavaScript's \s that classOf follows for GPT-2).
CharClass unicodeClassOf(char32_t c)
{
    const CharClass cls = classOf(c);
    if (cls == CharClass::Letter || cls == CharClass::Number || c == kInvalid)
        return cls;
    return u_isUWhiteSpace(static_cast<UChar32>(c)) ? CharClass::Space : CharClass::Other;
}

/// "<0xAB>" -> 0xAB, else -1 (SentencePiece's byte tokens).
int byteTokenValue(std::string_view t)
{
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>')
        return -1;
    int v = 0;
    for (char ch : t.substr(3, 2)) {
        v *= 16;
        if (ch >= '0' && ch <= '9') v += ch - '0';
        else if (ch >= 'A' && ch <= 'F') v += ch - 'A' + 10;
        else if (ch >= 'a' && ch <= 'f') v += ch - 'a' + 10;
        else return -1;
    }
    return v;
}

std::string inQuotes(std::string_view s) { return "'" + std::string(s) + "'"; }

} // namespace

const std::array<char32_t, 256>& gpt2ByteToUnicode()
{
    static const std::array<char32_t, 256> table = [] {
        std::array<char32_t, 256> t{};
        const auto printable = [](int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
        int n = 0;
        for (int b = 0; b < 256; ++b)
            t[static_cast<std::size_t>(b)] = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
        return t;
    }();
    return table;
}

std::vector<std::string_view> gpt2PreTokenize(std::string_view s)
{
    std::vector<std::string_view> out;
    const std::size_t n = s.size();
    // The end of the run of `cls` characters starting at j.
    const auto runEnd = [&](std::size_t j, CharClass cls) {
        while (j < n) {
            const CodePoint cp = decodeAt(s, j);
            if (classOf(cp.c) != cls)
                break;
            j += cp.len;
        }
        return j;
    };
    std::size_t i = 0;
    while (i < n) {
        // 's|'t|'re|'ve|'m|'ll|'d
        if (s[i] == '\'' && i + 1 < n) {
            const char a = s[i + 1];
            const char b = i + 2 < n ? s[i + 2] : '\0';
            std::size_t len = 0;
            if (a == 's' || a == 't' || a == 'm' || a == 'd')
                len = 2;
            else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                len = 3;
            if (len) {
                out.push_back(s.substr(i, len));
                i += len;
                continue;
            }
        }
        const CodePoint first = decodeAt(s, i);
        const CharClass cls = classOf(first.c);
        //  ?\p{L}+ |  ?\p{N}+ |  ?[^\s\p{L}\p{N}]+ : a space joins the run that follows it.
        if (s[i] == ' ' && i + 1 < n) {
            const CharClass next = classOf(decodeAt(s, i + 1).c);
            if (next != CharClass::Space) {
                const std::size_t end = runEnd(i + 1, next);
                out.push_back(s.substr(i, end - i));
                i = end;
                continue;
            }
        }
        if (cls != CharClass::Space) {
            const std::size_t end = runEnd(i, cls);
            out.push_back(s.substr(i, end - i));
            i = end;
            continue;
        }
        // \s+(?!\S) | \s+ : a run of white space leaves its last character to the word after it.
        std::size_t end = i, last = i;
        while (end < n) {
            const CodePoint cp = decodeAt(s, end);
            if (classOf(cp.c) != CharClass::Space)
                break;
            last = end;
            end += cp.len;
        }
        if (end < n && last > i)
            end = last;
        out.push_back(s.substr(i, end - i));
        i = end;
    }
    return out;
}

namespace {

/// Llama 3's regex, or Qwen2's when `maxDigits` is 1 (they differ only in \p{N}{1,3} and \p{N}):
///   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
///   \s*[\r\n]+|\s+(?!\S)|\s+
/// by hand, as llama.cpp's unicode_regex_split_custom_llama3 and _qwen2 run it. The alternatives are
/// tried in order at each position; each branch below says which one it is.
std::vector<std::string_view> llamaStylePreTokenize(std::string_view s, int maxDigits)
{
    std::vector<std::string_view> out;
    const std::size_t n = s.size();
    const auto classAt = [&](std::size_t j) { return unicodeClassOf(decodeAt(s, j).c); }; // j < n
    const auto isNewline = [&](std::size_t j) { return j < n && (s[j] == '\r' || s[j] == '\n'); };
    // The end of the run of `cls` characters starting at j.
    const auto runEnd = [&](std::size_t j, CharClass cls) {
        while (j < n && classAt(j) == cls)
            j += decodeAt(s, j).len;
        return j;
    };
    // Only 'A'..'Z' have Unicode lower-case mappings among the letters of the contractions
    // (llama.cpp lowers with unicode_tolower), so ASCII lowering is the (?i:) here.
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    std::size_t i = 0;
    while (i < n) {
        // (?i:'s|'t|'re|'ve|'m|'ll|'d): "'S" and "'Ll" too, unlike GPT-2's.
        if (s[i] == '\'' && i + 1 < n) {
            const char a = lower(s[i + 1]);
            const char b = i + 2 < n ? lower(s[i + 2]) : '\0';
            std::size_t len = 0;
            if (a == 's' || a == 't' || a == 'm' || a == 'd')
                len = 2;
            else if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
                len = 3;
            if (len) {
                out.push_back(s.substr(i, len));
                i += len;
                continue;
            }
        }
        const CodePoint first = decodeAt(s, i);
        const CharClass cls = unicodeClassOf(first.c);
        const std::size_t next = i + first.len;
        // [^\r\n\p{L}\p{N}]?\p{L}+ : letters, and one character before them that is neither a
        // newline nor a digit (" hello", "!hello", "\thello", "'x").
        if (cls == CharClass::Letter ||
            (cls != CharClass::Number && !isNewline(i) && next < n && classAt(next) == CharClass::Letter)) {
            const std::size_t end = runEnd(next, CharClass::Letter);
            out.push_back(s.substr(i, end - i));
            i = end;
            continue;
        }
        // \p{N}{1,3} or \p{N}: a run of digits is cut every maxDigits from its start.
        if (cls == CharClass::Number) {
            std::size_t end = i;
            for (int k = 0; k < maxDigits && end < n && classAt(end) == CharClass::Number; ++k)
                end += decodeAt(s, end).len;
            out.push_back(s.substr(i, end - i));
            i = end;
            continue;
        }
        //  ?[^\s\p{L}\p{N}]+[\r\n]* : punctuation and symbols, a space before them, the newlines after.
        const bool spaceThenOther = s[i] == ' ' && next < n && classAt(next) == CharClass::Other;
        if (cls == CharClass::Other || spaceThenOther) {
            std::size_t end = runEnd(spaceThenOther ? next : i, CharClass::Other);
            while (isNewline(end))
                ++end;
            out.push_back(s.substr(i, end - i));
            i = end;
            continue;
        }
        // White space. \s*[\r\n]+ : a run holding newlines ends after its last newline (the
        // spaces after it start the next word); \s+(?!\S) | \s+ : else it leaves its last
        // character to the word after it, unless the text ends there.
        std::size_t end = i, last = i, afterNewline = 0;
        while (end < n && classAt(end) == CharClass::Space) {
            last = end;
            if (isNewline(end))
                afterNewline = end + 1;
            end += decodeAt(s, end).len;
        }
        if (afterNewline)
            end = afterNewline;
        else if (end < n && last > i)
            end = last;
        out.push_back(s.substr(i, end - i));
        i = end;
    }
    return out;
}

} // namespace

std::vector<std::string_view> llama3PreTokenize(std::string_view utf8) { return llamaStylePreTokenize(utf8, 3); }
std::vector<std::string_view> qwen2PreTokenize(std::string_view utf8) { return llamaStylePreTokenize(utf8, 1); }

struct Tokenizer::Impl {
    Kind kind = Kind::ByteLevelBpe;
    std::string source;
    std::vector<std::string> tokens;                                           // id -> text
    std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>> ids; // text -> id
    std::vector<std::string> pieces;                                           // id -> decoded bytes
    struct Merge {
        std::int32_t rank;
        std::int32_t merged;
    };
    std::unordered_map<std::uint64_t, Merge> merges; // (left id << 32 | right id) -> merge
    bool mergeByScore = false;                       // llama.cpp's rule for GGUF "llama" vocabularies
    std::vector<float> scores;
    // Byte-level: the symbol of each byte. SentencePiece: the <0xXX> token, or -1.
    std::array<std::int32_t, 256> byteIds{};
    bool byteFallback = false;
    bool fuseUnk = false;
    bool prefixSpace = false; // byte-level: add_prefix_space; SentencePiece: prepend "▁"
    PreTokenizer pre = PreTokenizer::Gpt2;
    bool ignoreMerges = false; // byte-level: a word that is a token is not merged
    bool nfc = false;          // byte-level: tokenizer.json's NFC normalizer (Qwen2's)
    SpecialTokens special;
    // SentencePiece: the pairs of neighbouring code points (a << 32 | b) found inside some token.
    // Where the text has a pair that no token contains, no merge can cross, so the text is cut
    // there into words that are merged (and cached) on their own with the same result.
    std::unordered_set<std::uint64_t> innerPairs;
    std::vector<std::pair<std::string, std::int32_t>> added; // added tokens' text and ids

    void setTokens(std::vector<std::string> list);
    void addMerge(std::string_view left, std::string_view right, std::int32_t rank);
    void finish();

    std::optional<std::int32_t> find(std::string_view t) const
    {
        const auto it = ids.find(t);
        return it == ids.end() ? std::nullopt : std::optional<std::int32_t>(it->second);
    }
    /// BPE over the symbols of `word` (bytes for byte-level, code points for SentencePiece).
    void bpe(std::string_view word, std::vector<std::int32_t>& out) const;
};

void Tokenizer::Impl::setTokens(std::vector<std::string> list)
{
    if (list.empty())
        fail(source, "the vocabulary is empty");
    tokens = std::move(list);
    ids.clear();
    ids.reserve(tokens.size());
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const auto [it, inserted] = ids.emplace(tokens[i], static_cast<std::int32_t>(i));
        if (!inserted)
            fail(source, "token " + inQuotes(tokens[i]) + " appears twice (ids " + std::to_string(it->second) + " and " +
                             std::to_string(i) + ")");
    }
}

void Tokenizer::Impl::addMerge(std::string_view left, std::string_view right, std::int32_t rank)
{
    const std::string what = "merge " + std::to_string(rank) + " (" + inQuotes(std::string(left) + " " + std::string(right)) + ")";
    const auto l = find(left), r = find(right);
    if (!l || !r)
        fail(source, what + ": " + inQuotes(!l ? left : right) + " is not in the vocabulary");
    const std::string joined = std::string(left) + std::string(right);
    const auto m = find(joined);
    if (!m)
        fail(source, what + ": the merged token " + inQuotes(joined) + " is not in the vocabulary");
    const std::uint64_t key = (static_cast<std::uint64_t>(*l) << 32) | static_cast<std::uint32_t>(*r);
    const auto [it, inserted] = merges.emplace(key, Merge{rank, *m});
    if (!inserted)
        fail(source, what + " repeats merge " + std::to_string(it->second.rank));
}

void Tokenizer::Impl::finish()
{
    byteIds.fill(-1);
    pieces.resize(tokens.size());
    if (kind == Kind::ByteLevelBpe) {
        const auto& table = gpt2ByteToUnicode();
        std::unordered_map<char32_t, unsigned char> inverse;
        for (int b = 0; b < 256; ++b) {
            const std::string sym = utf8(table[static_cast<std::size_t>(b)]);
            const auto id = find(sym);
            if (!id) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "0x%02X", b);
                fail(source, "the vocabulary lacks the symbol " + inQuotes(sym) + " of byte " + hex);
            }
            byteIds[static_cast<std::size_t>(b)] = *id;
            inverse[table[static_cast<std::size_t>(b)]] = static_cast<unsigned char>(b);
        }
        for (std::size_t id = 0; id < tokens.size(); ++id) {
            const std::string& t = tokens[id];
            std::string bytes;
            for (std::size_t i = 0; i < t.size();) {
                const CodePoint cp = decodeAt(t, i);
                const auto it = inverse.find(cp.c);
                // Characters outside the table stand for themselves.
                if (it != inverse.end())
                    bytes += static_cast<char>(it->second);
                else
                    bytes.append(t, i, cp.len);
                i += cp.len;
            }
            pieces[id] = std::move(bytes);
        }
        // Added tokens decode as the text they are, not through the byte table.
        for (const auto& [text, id] : added)
            pieces[static_cast<std::size_t>(id)] = text;
    } else {
        for (std::size_t id = 0; id < tokens.size(); ++id) {
            const std::string& t = tokens[id];
            const int byte = byteTokenValue(t);
            if (byte >= 0) {
                byteIds[static_cast<std::size_t>(byte)] = static_cast<std::int32_t>(id);
                pieces[id] = std::string(1, static_cast<char>(byte));
                continue;
            }
            char32_t previous = kInvalid;
            for (std::size_t i = 0; i < t.size();) {
                const CodePoint cp = decodeAt(t, i);
                if (i > 0)
                    innerPairs.insert((static_cast<std::uint64_t>(previous) << 32) | cp.c);
                previous = cp.c;
                i += cp.len;
            }
            std::string text;
            for (std::size_t i = 0; i < t.size();) {
                if (t.compare(i, kSpaceMark.size(), kSpaceMark) == 0) {
                    text += ' ';
                    i += kSpaceMark.size();
                } else {
                    text += t[i++];
                }
            }
            pieces[id] = std::move(text);
        }
    }
    const auto check = [&](std::optional<std::int32_t>& id, const char* name) {
        if (id && (*id < 0 || *id >= static_cast<std::int32_t>(tokens.size())))
            fail(source, std::string(name) + " token id " + std::to_string(*id) + " is out of range (vocabulary of " +
                             std::to_string(tokens.size()) + ")");
    };
    check(special.bos, "bos");
    check(special.eos, "eos");
    check(special.unk, "unk");
    check(special.pad, "pad");
}

void Tokenizer::Impl::bpe(std::string_view word, std::vector<std::int32_t>& out) const
{
    struct Symbol {
        std::int32_t id;         // -1: a character with no token of its own
        std::int32_t prev, next; // neighbours in the word, -1 at the ends
        std::uint32_t start, len; // its bytes in `word`; len 0 once merged into its left neighbour
    };
    if (kind == Kind::ByteLevelBpe && ignoreMerges) {
        // ignore_merges: a word that is a token in the vocabulary's spelling is that token, even
        // where the merges would not make it (Hugging Face's BPE and llama.cpp's Llama 3).
        std::string spelled;
        for (char ch : word)
            spelled += tokens[static_cast<std::size_t>(byteIds[static_cast<unsigned char>(ch)])];
        if (const auto id = find(spelled)) {
            out.push_back(*id);
            return;
        }
    }
    std::vector<Symbol> sym;
    sym.reserve(word.size());
    if (kind == Kind::ByteLevelBpe) {
        for (std::size_t i = 0; i < word.size(); ++i)
            sym.push_back({byteIds[static_cast<unsigned char>(word[i])], static_cast<std::int32_t>(i) - 1,
                           static_cast<std::int32_t>(i) + 1, static_cast<std::uint32_t>(i), 1});
    } else {
        for (std::size_t i = 0; i < word.size();) {
            const CodePoint cp = decodeAt(word, i);
            const auto id = find(word.substr(i, cp.len));
            const auto k = static_cast<std::int32_t>(sym.size());
            sym.push_back({id ? *id : -1, k - 1, k + 1, static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(cp.len)});
            i += cp.len;
        }
    }
    if (sym.empty())
        return;
    sym.back().next = -1;

    // Candidate merges, best first: lowest rank (or highest score), then leftmost.
    struct Candidate {
        double priority; // rank, or minus the merged token's score
        std::int32_t left, right, merged;
        std::uint32_t leftLen, rightLen; // to notice candidates made stale by other merges
        bool operator>(const Candidate& o) const { return priority != o.priority ? priority > o.priority : left > o.left; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    const auto consider = [&](std::int32_t l) {
        if (l < 0 || sym[static_cast<std::size_t>(l)].next < 0)
            return;
        const Symbol& a = sym[static_cast<std::size_t>(l)];
        const Symbol& b = sym[static_cast<std::size_t>(a.next)];
        if (mergeByScore) {
            const auto id = find(word.substr(a.start, a.len + b.len)); // neighbours are contiguous
            if (id)
                queue.push({-static_cast<double>(scores[static_cast<std::size_t>(*id)]), l, a.next, *id, a.len, b.len});
            return;
        }
        if (a.id < 0 || b.id < 0)
            return;
        const auto it = merges.find((static_cast<std::uint64_t>(a.id) << 32) | static_cast<std::uint32_t>(b.id));
        if (it != merges.end())
            queue.push({static_cast<double>(it->second.rank), l, a.next, it->second.merged, a.len, b.len});
    };
    for (std::int32_t i = 0; i + 1 < static_cast<std::int32_t>(sym.size()); ++i)
        consider(i);
    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& a = sym[static_cast<std::size_t>(c.left)];
        if (a.len != c.leftLen || a.next != c.right || sym[static_cast<std::size_t>(c.right)].len != c.rightLen)
            continue;
        Symbol& b = sym[static_cast<std::size_t>(c.right)];
        a.id = c.merged;
        a.len += b.len;
        a.next = b.next;
        if (b.next >= 0)
            sym[static_cast<std::size_t>(b.next)].prev = c.left;
        b.len = 0;
        consider(a.prev);
        consider(c.left);
    }

    bool lastUnk = false;
    for (std::int32_t i = 0; i >= 0; i = sym[static_cast<std::size_t>(i)].next) {
        const Symbol& s = sym[static_cast<std::size_t>(i)];
        if (s.id >= 0) {
            out.push_back(s.id);
            lastUnk = false;
            continue;
        }
        const std::string_view text = word.substr(s.start, s.len);
        bool bytesKnown = byteFallback;
        for (char ch : text)
            bytesKnown = bytesKnown && byteIds[static_cast<unsigned char>(ch)] >= 0;
        if (bytesKnown) {
            for (char ch : text)
                out.push_back(byteIds[static_cast<unsigned char>(ch)]);
            lastUnk = false;
        } else if (special.unk) {
            if (!(fuseUnk && lastUnk))
                out.push_back(*special.unk);
            lastUnk = true;
        } else {
            throw Error("encode: " + inQuotes(text) + " has no token, no byte tokens and the vocabulary has no unknown token");
        }
    }
}

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer::Kind Tokenizer::kind() const { return impl_->kind; }
Tokenizer::PreTokenizer Tokenizer::preTokenizer() const { return impl_->pre; }
bool Tokenizer::ignoresMerges() const { return impl_->ignoreMerges; }
std::int32_t Tokenizer::vocabSize() const { return static_cast<std::int32_t>(impl_->tokens.size()); }
const SpecialTokens& Tokenizer::special() const { return impl_->special; }

std::vector<std::string> Tokenizer::merges() const
{
    if (impl_->mergeByScore)
        return {};
    std::vector<std::pair<std::int32_t, std::uint64_t>> byRank;
    byRank.reserve(impl_->merges.size());
    for (const auto& [pair, m] : impl_->merges)
        byRank.emplace_back(m.rank, pair);
    std::sort(byRank.begin(), byRank.end());
    std::vector<std::string> out;
    out.reserve(byRank.size());
    for (const auto& [rank, pair] : byRank)
        out.push_back(impl_->tokens[static_cast<std::size_t>(pair >> 32)] + " " +
                      impl_->tokens[static_cast<std::size_t>(pair & 0xffffffffu)]);
    return out;
}

bool Tokenizer::isAdded(std::int32_t id) const
{
    return std::any_of(impl_->added.begin(), impl_->added.end(), [&](const auto& a) { return a.second == id; });
}
std::optional<std::int32_t> Tokenizer::tokenId(std::string_view token) const { return impl_->find(token); }

namespace {

/// The tokenizer.ggml.pre that makes llama.cpp split and merge as a byte-level tokenizer does: it
/// picks the regex and ignore_merges by this name (llama-vocab.cpp), as llama.cpp's converter names them.
std::string ggufPreName(Tokenizer::PreTokenizer pre, bool ignoreMerges, const std::string& source)
{
    using Pre = Tokenizer::PreTokenizer;
    if (pre == Pre::Gpt2 && !ignoreMerges)
        return "gpt-2";
    if (pre == Pre::Llama3 && ignoreMerges)
        return "llama-bpe";
    if (pre == Pre::Qwen2 && !ignoreMerges)
        return "qwen2";
    const char* name = pre == Pre::Llama3 ? "Llama 3's" : pre == Pre::Qwen2 ? "Qwen2's" : "GPT-2's";
    throw UnsupportedError(source + ": GGUF export of " + name + " pre-tokenizer " + (ignoreMerges ? "with" : "without") +
                           " ignore_merges is not implemented (llama.cpp's names for a pre-tokenizer decide ignore_merges)");
}

} // namespace

std::vector<std::pair<std::string, GgufValue>> Tokenizer::ggufVocabulary(const std::string& source) const
{
    const Impl& im = *impl_;
    const bool spm = im.kind == Kind::SentencePieceBpe;
    // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 6 byte.
    std::vector<bool> byteTokens(im.tokens.size());
    if (spm) {
        if (!im.byteFallback)
            throw UnsupportedError(source + ": GGUF export of a SentencePiece vocabulary without byte_fallback is not "
                                            "implemented (llama.cpp falls back to byte tokens)");
        for (int b = 0; b < 256; ++b) {
            // Its <0xXX> token, spelled as llama.cpp looks it up (upper-case hex).
            const std::int32_t id = im.byteIds[static_cast<std::size_t>(b)];
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            if (id < 0 || im.tokens[static_cast<std::size_t>(id)] != name) {
                throw UnsupportedError(source + ": GGUF export of a SentencePiece vocabulary without the byte token " +
                                       name + " is not implemented");
            }
            byteTokens[static_cast<std::size_t>(id)] = true;
        }
    }
    // Added tokens are control tokens, never user-defined (4): llama.cpp would split user-defined ones
    // out of plain text, which Leger's evaluation reads as text (AddedTokens::AsText).
    std::vector<bool> added(im.tokens.size());
    for (const auto& a : im.added)
        added[static_cast<std::size_t>(a.second)] = true;
    std::vector<GgufValue> tokens, types;
    tokens.reserve(im.tokens.size());
    types.reserve(im.tokens.size());
    for (std::size_t id = 0; id < im.tokens.size(); ++id) {
        tokens.push_back(ggufString(im.tokens[id]));
        const std::int64_t type = spm && im.special.unk && static_cast<std::size_t>(*im.special.unk) == id ? 2
                                  : added[id]                                                            ? 3
                                  : byteTokens[id]                                                       ? 6
                                                                                                         : 1;
        types.push_back({GgufValue::Type::I32, GgufValue::Type::U8, type});
    }
    std::vector<std::pair<std::string, GgufValue>> m;
    m.emplace_back("tokenizer.ggml.model", ggufString(spm ? "llama" : "gpt2"));
    if (!spm)
        m.emplace_back("tokenizer.ggml.pre", ggufString(ggufPreName(im.pre, im.ignoreMerges, source)));
    m.emplace_back("tokenizer.ggml.tokens", ggufArray(GgufValue::Type::String, std::move(tokens)));
    m.emplace_back("tokenizer.ggml.token_type", ggufArray(GgufValue::Type::I32, std::move(types)));
    if (!spm) {
        std::vector<GgufValue> merges;
        for (std::string& merge : this->merges())
            merges.push_back(ggufString(std::move(merge)));
        m.emplace_back("tokenizer.ggml.merges", ggufArray(GgufValue::Type::String, std::move(merges)));
        return m;
    }
    std::vector<float> score = im.scores;
    if (!im.mergeByScore) {
        // Each merged token: minus the best (lowest) rank of the merges that make it.
        std::vector<std::int32_t> rank(im.tokens.size(), -1);
        for (const auto& [pair, merge] : im.merges) {
            std::int32_t& r = rank[static_cast<std::size_t>(merge.merged)];
            r = r < 0 ? merge.rank : std::min(r, merge.rank);
        }
        score.assign(im.tokens.size(), 0.0f);
        for (std::size_t id = 0; id < rank.size(); ++id)
            if (rank[id] >= 0)
                score[id] = -static_cast<float>(rank[id]);
    }
    std::vector<GgufValue> scores;
    scores.reserve(score.size());
    for (float f : score)
        scores.push_back(ggufF32(f));
    m.emplace_back("tokenizer.ggml.scores", ggufArray(GgufValue::Type::F32, std::move(scores)));
    if (im.special.unk)
        m.emplace_back("tokenizer.ggml.unknown_token_id", ggufU32(static_cast<std::uint32_t>(*im.special.unk)));
    m.emplace_back("tokenizer.ggml.add_space_prefix", ggufBool(im.prefixSpace));
    return m;
}

const std::string& Tokenizer::tokenText(std::int32_t id) const
{
    if (id < 0 || id >= vocabSize())
        throw Error("token id " + std::to_string(id) + " out of range");
    return impl_->tokens[static_cast<std::size_t>(id)];
}

namespace {

/// Appends the ids of `word`, from `cache` when the word came before in this call.
void encodeWord(const Tokenizer::Impl& impl, std::string_view word,
                std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>>& cache, std::vector<std::int32_t>& out)
{
    if (const auto it = cache.find(word); it != cache.end()) {
        const auto [begin, count] = it->second;
        for (std::size_t k = 0; k < count; ++k)
            out.push_back(out[begin + k]);
        return;
    }
    const std::size_t begin = out.size();
    impl.bpe(word, out);
    if (word.size() <= kMaxCachedWord)
        cache.emplace(word, std::pair{begin, out.size() - begin});
}

/// `text` in Unicode's normalization form C (tokenizer.json's "NFC" normalizer); invalid UTF-8
/// bytes stay as they are and the valid runs between them are normalized on their own.
std::string toNfc(std::string_view text)
{
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* nfc = icu::Normalizer2::getNFCInstance(status);
    if (U_FAILURE(status))
        throw Error(std::string("ICU's NFC normalizer is not available (") + u_errorName(status) + ")");
    std::string out;
    icu::StringByteSink<std::string> sink(&out);
    for (std::size_t i = 0; i < text.size();) {
        std::size_t end = i;
        while (end < text.size() && decodeAt(text, end).c != kInvalid)
            end += decodeAt(text, end).len;
        if (end - i > static_cast<std::size_t>(INT32_MAX))
            throw Error("NFC normalization of more than 2 GiB of text at once is not supported");
        if (end > i) {
            nfc->normalizeUTF8(0, icu::StringPiece(text.data() + i, static_cast<std::int32_t>(end - i)), sink, nullptr, status);
            if (U_FAILURE(status))
                throw Error(std::string("NFC normalization failed (") + u_errorName(status) + ")");
        }
        for (i = end; i < text.size() && decodeAt(text, i).c == kInvalid; ++i)
            out += text[i];
    }
    return out;
}

/// The ids of `text`, added tokens read as text.
std::vector<std::int32_t> encodeText(const Tokenizer::Impl& impl, std::string_view text)
{
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3);
    if (impl.kind == Tokenizer::Kind::SentencePieceBpe) {
        if (text.empty())
            return out;
        // Normalizer: Prepend("▁") + Replace(" ", "▁"); then the whole text is one word.
        std::string normalized;
        normalized.reserve(text.size() + text.size() / 4 + 3);
        if (impl.prefixSpace)
            normalized += kSpaceMark;
        for (char ch : text) {
            if (ch == ' ')
                normalized += kSpaceMark;
            else
                normalized += ch;
        }
        std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>> cache; // word -> ids in `out`
        const std::string_view all = normalized;
        std::size_t start = 0;
        char32_t previous = kInvalid;
        for (std::size_t i = 0; i <= all.size();) {
            const CodePoint cp = i < all.size() ? decodeAt(all, i) : CodePoint{kInvalid, 1};
            if (i == all.size() || (i > start && !impl.innerPairs.contains((static_cast<std::uint64_t>(previous) << 32) | cp.c))) {
                encodeWord(impl, all.substr(start, i - start), cache, out);
                start = i;
            }
            previous = cp.c;
            i += cp.len;
        }
        if (impl.fuseUnk && impl.special.unk) { // unknowns in neighbouring words fuse too
            const std::int32_t unk = *impl.special.unk;
            out.erase(std::unique(out.begin(), out.end(), [&](std::int32_t a, std::int32_t b) { return a == unk && b == unk; }),
                      out.end());
        }
        return out;
    }
    std::string normalized;
    if (impl.nfc) {
        normalized = toNfc(text);
        text = normalized;
    }
    std::string prefixed;
    if (impl.prefixSpace && !text.empty() && text.front() != ' ') {
        prefixed = " " + std::string(text);
        text = prefixed;
    }
    // Words repeat a lot in text: cache their ids for the length of this call (a cache kept in
    // the tokenizer would make the const encode unsafe to call from several threads).
    std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>> cache; // word -> ids in `out`
    const std::vector<std::string_view> words = impl.pre == Tokenizer::PreTokenizer::Llama3 ? llama3PreTokenize(text)
                                                : impl.pre == Tokenizer::PreTokenizer::Qwen2 ? qwen2PreTokenize(text)
                                                                                              : gpt2PreTokenize(text);
    for (const std::string_view word : words)
        encodeWord(impl, word, cache, out);
    return out;
}

} // namespace

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, AddedTokens added) const
{
    const auto& tokens = impl_->added;
    if (added == AddedTokens::AsText || tokens.empty())
        return encodeText(*impl_, text);
    std::vector<std::int32_t> out;
    // The next place each added token occurs at or after `pos` (npos: nowhere), found once each.
    std::vector<std::size_t> next(tokens.size());
    for (std::size_t k = 0; k < tokens.size(); ++k)
        next[k] = text.find(tokens[k].first);
    for (std::size_t pos = 0;;) {
        std::size_t best = std::string_view::npos, which = 0;
        for (std::size_t k = 0; k < tokens.size(); ++k) {
            if (next[k] != std::string_view::npos && next[k] < pos)
                next[k] = text.find(tokens[k].first, pos);
            // The earliest, and of those the longest.
            if (next[k] < best || (next[k] == best && best != std::string_view::npos && tokens[k].first.size() > tokens[which].first.size())) {
                best = next[k];
                which = k;
            }
        }
        const std::vector<std::int32_t> piece = encodeText(*impl_, text.substr(pos, best == std::string_view::npos ? text.npos : best - pos));
        out.insert(out.end(), piece.begin(), piece.end());
        if (best == std::string_view::npos)
            return out;
        out.push_back(tokens[which].second);
        pos = best + tokens[which].first.size();
    }
}

std::string Tokenizer::decode(const std::vector<std::int32_t>& ids) const
{
    std::string text;
    for (const std::int32_t id : ids) {
        if (id < 0 || id >= vocabSize())
            throw Error("decode: id " + std::to_string(id) + " out of range (vocabulary of " + std::to_string(vocabSize()) + ")");
        text += impl_->pieces[static_cast<std::size_t>(id)];
    }
    // SentencePiece's decoder strips the space its normalizer prepended.
    if (impl_->kind == Kind::SentencePieceBpe && impl_->prefixSpace && !text.empty() && text.front() == ' ')
        text.erase(0, 1);
    return text;
}

// ---- GPT-2 files ----

namespace {

Json parseJson(const std::string& text, const std::string& source)
{
    try {
        return Json::parse(text);
    } catch (const Json::exception& e) {
        fail(source, std::string("not valid JSON (") + e.what() + ")");
    }
}

/// A {"token": id, ...} object as a list indexed by id; ids must run from 0 without gaps.
std::vector<std::string> vocabList(const Json& vocab, const std::string& source, const std::string& where)
{
    if (!vocab.is_object())
        fail(source, where + ": expected an object of token ids");
    std::vector<std::string> list(vocab.size());
    std::vector<bool> seen(vocab.size(), false);
    for (const auto& [token, v] : vocab.items()) {
        if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() >= kMaxVocab)
            fail(source, where + ": token " + inQuotes(token) + " has id " + v.dump() + ", expected an integer in 0.." +
                             std::to_string(kMaxVocab - 1));
        const auto id = static_cast<std::size_t>(v.get<std::int64_t>());
        if (id >= list.size()) {
            list.resize(id + 1);
            seen.resize(id + 1, false);
        }
        if (seen[id])
            fail(source, where + ": tokens " + inQuotes(list[id]) + " and " + inQuotes(token) + " both have id " + std::to_string(id));
        seen[id] = true;
        list[id] = token;
    }
    for (std::size_t id = 0; id < seen.size(); ++id)
        if (!seen[id])
            fail(source, where + ": no token has id " + std::to_string(id) + " (ids must run from 0 without gaps)");
    return list;
}

} // namespace

Tokenizer Tokenizer::fromGpt2Files(const std::string& vocabPath, const std::string& mergesPath)
{
    return fromGpt2(readFile(vocabPath), readFile(mergesPath), vocabPath, mergesPath);
}

Tokenizer Tokenizer::fromGpt2(const std::string& vocabJson, const std::string& mergesText, const std::string& vocabSource,
                              const std::string& mergesSource)
{
    auto impl = std::make_unique<Impl>();
    impl->kind = Kind::ByteLevelBpe;
    impl->source = vocabSource;
    impl->setTokens(vocabList(parseJson(vocabJson, vocabSource), vocabSource, "vocabulary"));
    impl->source = mergesSource;
    std::int32_t rank = 0;
    std::size_t lineNo = 0;
    for (std::size_t pos = 0; pos < mergesText.size();) {
        std::size_t end = mergesText.find('\n', pos);
        if (end == std::string::npos)
            end = mergesText.size();
        std::string_view line(mergesText.data() + pos, end - pos);
        pos = end + 1;
        ++lineNo;
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        if (line.empty() || (lineNo == 1 && line.starts_with("#version")))
            continue;
        const std::size_t space = line.find(' ');
        if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
            line.find(' ', space + 1) != std::string_view::npos)
            fail(mergesSource, "line " + std::to_string(lineNo) + ": expected two tokens separated by one space, got " +
                                   inQuotes(line));
        impl->addMerge(line.substr(0, space), line.substr(space + 1), rank++);
    }
    impl->source = vocabSource;
    if (const auto eot = impl->find("<|endoftext|>")) {
        impl->special.bos = impl->special.eos = *eot;
        impl->added.emplace_back("<|endoftext|>", *eot);
    }
    impl->finish();
    return Tokenizer(std::move(impl));
}

// ---- Hugging Face tokenizer.json ----

Tokenizer Tokenizer::fromHuggingFace(const std::string& path) { return fromHuggingFaceJson(readFile(path), path); }

namespace {

// The Split regexes of Llama 3's and Qwen2's tokenizer.json, as the files spell them.
constexpr std::string_view kLlama3Regex =
    R"rx((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)rx";
constexpr std::string_view kQwen2Regex =
    R"rx((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)rx";

/// Llama 3's and Qwen2's pre_tokenizer: Sequence[Split(regex, Isolated), ByteLevel without its
/// regex and without a prefix space]. Leger has their regexes by hand, so the pattern must be one
/// of the two, letter for letter.
Tokenizer::PreTokenizer splitPreTokenizer(const Json& pre, const std::string& source)
{
    const Json list = pre.value("pretokenizers", Json());
    const auto refuse = [&](const std::string& what) {
        throw UnsupportedError(source + ": pre_tokenizer: " + what + " is not supported (Llama 3's or Qwen2's " +
                               "Sequence of a Split and a ByteLevel pre-tokenizer)");
    };
    if (!list.is_array() || list.size() != 2 || !list[0].is_object() || !list[1].is_object() ||
        list[0].value("type", "") != "Split" || list[1].value("type", "") != "ByteLevel") {
        std::string types;
        for (const Json& p : list.is_array() ? list : Json::array())
            types += (types.empty() ? "" : ", ") + (p.is_object() ? p.value("type", "?") : "?");
        refuse("Sequence [" + types + "]");
    }
    const Json& split = list[0];
    const Json& byteLevel = list[1];
    const Json pattern = split.value("pattern", Json());
    if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string())
        refuse("Split pattern " + pattern.dump().substr(0, 200));
    const std::string regex = pattern["Regex"].get<std::string>();
    Tokenizer::PreTokenizer kind{};
    if (regex == kLlama3Regex)
        kind = Tokenizer::PreTokenizer::Llama3;
    else if (regex == kQwen2Regex)
        kind = Tokenizer::PreTokenizer::Qwen2;
    else
        throw UnsupportedError(source + ": pre_tokenizer: Split pattern " + inQuotes(regex.substr(0, 300)) +
                               " is not supported (Llama 3's or Qwen2's regex only)");
    if (split.value("behavior", "") != "Isolated" || split.value("invert", false))
        refuse("Split behavior " + inQuotes(split.value("behavior", "")) + (split.value("invert", false) ? " inverted" : ""));
    if (byteLevel.value("use_regex", true) || byteLevel.value("add_prefix_space", false))
        refuse("ByteLevel after Split with use_regex or add_prefix_space");
    return kind;
}

std::unique_ptr<Tokenizer::Impl> huggingFaceImpl(const Json& j, const std::string& source)
{
    if (!j.is_object())
        fail(source, "expected a JSON object");
    if (!j.contains("model") || !j["model"].is_object())
        fail(source, "model: missing");
    const Json& model = j["model"];
    const std::string type = model.value("type", std::string("BPE"));
    if (type != "BPE")
        throw UnsupportedError(source + ": model.type " + inQuotes(type) + " is not supported (BPE only)");
    if (!model.contains("merges") || !model["merges"].is_array())
        fail(source, "model.merges: missing");

    auto impl = std::make_unique<Tokenizer::Impl>();
    impl->source = source;
    const Json pre = j.value("pre_tokenizer", Json());
    const Json norm = j.value("normalizer", Json());
    if (pre.is_object() && pre.value("type", "") == "ByteLevel") {
        if (!pre.value("use_regex", true))
            throw UnsupportedError(source + ": pre_tokenizer: ByteLevel without its regex is not supported");
        impl->kind = Tokenizer::Kind::ByteLevelBpe;
        impl->prefixSpace = pre.value("add_prefix_space", false);
    } else if (pre.is_object() && pre.value("type", "") == "Sequence") {
        impl->kind = Tokenizer::Kind::ByteLevelBpe;
        impl->pre = splitPreTokenizer(pre, source);
        // Qwen2's normalizer; llama.cpp does not normalize.
        if (norm.is_object() && norm.value("type", "") == "NFC")
            impl->nfc = true;
        else if (!norm.is_null())
            throw UnsupportedError(source + ": normalizer " + norm.dump().substr(0, 200) +
                                   " is not supported with a Split pre-tokenizer (NFC or none)");
    } else if (pre.is_null()) {
        // Llama 2: Sequence[Prepend("▁"), Replace(" ", "▁")].
        const bool llama = norm.is_object() && norm.value("type", "") == "Sequence" && norm.contains("normalizers") &&
                           norm["normalizers"].is_array() && norm["normalizers"].size() == 2 &&
                           norm["normalizers"][0].value("type", "") == "Prepend" &&
                           norm["normalizers"][0].value("prepend", "") == kSpaceMark &&
                           norm["normalizers"][1].value("type", "") == "Replace" &&
                           norm["normalizers"][1].value("content", "") == kSpaceMark &&
                           norm["normalizers"][1].contains("pattern") &&
                           norm["normalizers"][1]["pattern"].value("String", "") == " ";
        if (!llama)
            throw UnsupportedError(source + ": normalizer " + norm.dump().substr(0, 200) +
                                   " is not supported (Llama 2's Prepend and Replace of \"\u2581\", or a ByteLevel pre-tokenizer)");
        impl->kind = Tokenizer::Kind::SentencePieceBpe;
        impl->prefixSpace = true;
    } else {
        throw UnsupportedError(source + ": pre_tokenizer " + inQuotes(pre.value("type", pre.dump().substr(0, 100))) +
                               " is not supported (ByteLevel, a Sequence of Split and ByteLevel, or none with Llama 2's normalizer)");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"})
        if (model.contains(key) && !model[key].is_null() && model[key] != "")
            throw UnsupportedError(source + ": model." + key + " " + model[key].dump().substr(0, 50) + " is not supported");
    try {
        impl->ignoreMerges = model.value("ignore_merges", false);
    } catch (const Json::exception&) {
        fail(source, "model.ignore_merges must be true or false");
    }
    // Hugging Face checks the whole normalized text against the vocabulary there, which Leger's
    // cutting of SentencePiece text into pieces would not.
    if (impl->ignoreMerges && impl->kind == Tokenizer::Kind::SentencePieceBpe)
        throw UnsupportedError(source + ": model.ignore_merges is not supported without a pre-tokenizer");
    if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0.0)
        throw UnsupportedError(source + ": model.dropout is not supported (it makes encoding random)");
    try {
        impl->byteFallback = model.value("byte_fallback", false);
        impl->fuseUnk = model.value("fuse_unk", false);
    } catch (const Json::exception&) {
        fail(source, "model.byte_fallback and model.fuse_unk must be true or false");
    }

    std::vector<std::string> list = vocabList(model.value("vocab", Json()), source, "model.vocab");
    // Added tokens share the id space; those past the model's vocabulary extend it.
    std::vector<std::pair<std::string, std::int64_t>> added;
    if (j.contains("added_tokens") && !j["added_tokens"].is_null()) {
        if (!j["added_tokens"].is_array())
            fail(source, "added_tokens: expected an array");
        for (const Json& a : j["added_tokens"]) {
            if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || !a.contains("content") ||
                !a["content"].is_string())
                fail(source, "added_tokens: expected entries with an integer id and a content string, got " + a.dump().substr(0, 100));
            const std::int64_t id = a["id"].get<std::int64_t>();
            const std::string content = a["content"].get<std::string>();
            if (id < 0 || id >= kMaxVocab)
                fail(source, "added_tokens: " + inQuotes(content) + " has id " + std::to_string(id));
            if (content.empty())
                fail(source, "added_tokens: token " + std::to_string(id) + " is empty");
            impl->added.emplace_back(content, static_cast<std::int32_t>(id));
            const auto uid = static_cast<std::size_t>(id);
            if (uid < list.size()) {
                if (list[uid] != content)
                    fail(source, "added_tokens: " + inQuotes(content) + " has id " + std::to_string(id) + ", which is " +
                                     inQuotes(list[uid]) + " in model.vocab");
                continue;
            }
            added.emplace_back(content, id);
        }
    }
    std::sort(added.begin(), added.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    for (const auto& [content, id] : added) {
        if (static_cast<std::size_t>(id) != list.size())
            fail(source, "added_tokens: no token has id " + std::to_string(list.size()) + " (ids must run from 0 without gaps)");
        list.push_back(content);
    }
    impl->setTokens(std::move(list));

    std::int32_t rank = 0;
    for (const Json& m : model["merges"]) {
        if (m.is_string()) {
            const std::string s = m.get<std::string>();
            const std::size_t space = s.find(' ');
            if (space == std::string::npos || space == 0 || space + 1 == s.size() || s.find(' ', space + 1) != std::string::npos)
                fail(source, "model.merges[" + std::to_string(rank) + "]: expected two tokens separated by one space, got " +
                                 inQuotes(s));
            impl->addMerge(std::string_view(s).substr(0, space), std::string_view(s).substr(space + 1), rank++);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            impl->addMerge(m[0].get<std::string>(), m[1].get<std::string>(), rank++);
        } else {
            fail(source, "model.merges[" + std::to_string(rank) + "]: expected \"a b\" or [\"a\", \"b\"], got " +
                             m.dump().substr(0, 100));
        }
    }

    if (model.contains("unk_token") && model["unk_token"].is_string()) {
        const std::string unk = model["unk_token"].get<std::string>();
        impl->special.unk = impl->find(unk);
        if (!impl->special.unk)
            fail(source, "model.unk_token " + inQuotes(unk) + " is not in the vocabulary");
    }
    const auto firstOf = [&](std::initializer_list<const char*> names) -> std::optional<std::int32_t> {
        for (const char* n : names)
            if (const auto id = impl->find(n))
                return id;
        return std::nullopt;
    };
    impl->special.bos = firstOf({"<s>", "<|begin_of_text|>", "<|endoftext|>"});
    impl->special.eos = firstOf({"</s>", "<|end_of_text|>", "<|endoftext|>"});
    impl->special.pad = firstOf({"<pad>", "[PAD]", "<|pad|>"});
    impl->finish();
    return impl;
}

} // namespace

Tokenizer Tokenizer::fromHuggingFaceJson(const std::string& text, const std::string& source)
{
    const Json j = parseJson(text, source);
    // A value of the wrong JSON type where this reads one throws from nlohmann: name the file.
    try {
        return Tokenizer(huggingFaceImpl(j, source));
    } catch (const Json::exception& e) {
        fail(source, std::string("unexpected JSON structure (") + e.what() + ")");
    }
}

// ---- GGUF ----

namespace {

const std::vector<GgufValue>& ggufArray(const GgufFile& f, const std::string& source, const std::string& key, bool required = true)
{
    static const std::vector<GgufValue> none;
    const GgufValue* v = f.find(key);
    if (!v) {
        if (required)
            fail(source, key + ": missing");
        return none;
    }
    const auto* a = std::get_if<std::vector<GgufValue>>(&v->value);
    if (!a)
        fail(source, key + ": expected an array");
    return *a;
}

/// The tokenizer.ggml.pre names llama.cpp gives the pre-tokenizers Leger has, and whether it ignores
/// merges for them (llama_vocab::impl::load in llama-vocab.cpp: the names of
/// LLAMA_VOCAB_PRE_TYPE_GPT2 that are GPT-2's own, and all of _LLAMA3 and _QWEN2).
struct GgufPreTokenizer {
    std::string_view name;
    Tokenizer::PreTokenizer pre;
    bool ignoreMerges;
};
constexpr GgufPreTokenizer kGgufPreTokenizers[] = {
    {"gpt-2", Tokenizer::PreTokenizer::Gpt2, false},
    {"llama3", Tokenizer::PreTokenizer::Llama3, true},
    {"llama-v3", Tokenizer::PreTokenizer::Llama3, true},
    {"llama-bpe", Tokenizer::PreTokenizer::Llama3, true},
    {"falcon3", Tokenizer::PreTokenizer::Llama3, true},
    {"falcon-h1", Tokenizer::PreTokenizer::Llama3, true},
    {"pixtral", Tokenizer::PreTokenizer::Llama3, true},
    {"midm-2.0", Tokenizer::PreTokenizer::Llama3, true},
    {"lfm2", Tokenizer::PreTokenizer::Llama3, true},
    {"jina-v5-nano", Tokenizer::PreTokenizer::Llama3, true},
    {"qwen2", Tokenizer::PreTokenizer::Qwen2, false},
    {"deepseek-r1-qwen", Tokenizer::PreTokenizer::Qwen2, false},
    {"kormo", Tokenizer::PreTokenizer::Qwen2, false},
    {"f2llmv2", Tokenizer::PreTokenizer::Qwen2, false},
    {"megrez", Tokenizer::PreTokenizer::Qwen2, false},
};

} // namespace

Tokenizer Tokenizer::fromGguf(const GgufFile& file, const std::string& source)
{
    const GgufValue* modelValue = file.find("tokenizer.ggml.model");
    if (!modelValue)
        fail(source, "tokenizer.ggml.model: missing (the file has no vocabulary)");
    std::string model;
    try {
        model = modelValue->toString("tokenizer.ggml.model");
    } catch (const Error& e) {
        fail(source, e.what());
    }
    auto impl = std::make_unique<Impl>();
    impl->source = source;
    if (model == "gpt2") {
        impl->kind = Kind::ByteLevelBpe;
        // llama.cpp splits the text of a "gpt2" vocabulary by the regexes tokenizer.ggml.pre names
        // (llama-vocab.cpp); Leger has GPT-2's, Llama 3's and Qwen2's. A missing value or "default"
        // is not GPT-2's: llama.cpp then also cuts runs of punctuation and of digits, the digits in
        // threes ("333333" is two words), so the ids would differ.
        const GgufValue* pre = file.find("tokenizer.ggml.pre");
        const auto* name = pre ? std::get_if<std::string>(&pre->value) : nullptr;
        const GgufPreTokenizer* known = nullptr;
        for (const GgufPreTokenizer& p : kGgufPreTokenizers)
            if (name && *name == p.name)
                known = &p;
        if (!known)
            throw UnsupportedError(source + ": tokenizer.ggml.pre" +
                                   (!pre    ? std::string(": missing, i.e. llama.cpp's 'default' pre-tokenizer, which")
                                    : name ? " " + inQuotes(*name)
                                           : std::string(": not a string, which")) +
                                   " is not supported (GPT-2's, Llama 3's and Qwen2's pre-tokenizers only: 'gpt-2', "
                                   "'llama-bpe', 'qwen2' and their other llama.cpp names)");
        impl->pre = known->pre;
        impl->ignoreMerges = known->ignoreMerges;
    } else if (model == "llama") {
        // llama.cpp ignores tokenizer.ggml.pre here: SentencePiece vocabularies have no pre-tokenizer.
        impl->kind = Kind::SentencePieceBpe;
        impl->mergeByScore = true;
        impl->byteFallback = true;
        impl->prefixSpace = true;
        if (const GgufValue* p = file.find("tokenizer.ggml.add_space_prefix")) {
            const auto* u = std::get_if<std::uint64_t>(&p->value);
            if (!u || p->type != GgufValue::Type::Bool)
                fail(source, "tokenizer.ggml.add_space_prefix: expected a bool");
            impl->prefixSpace = *u != 0;
        }
    } else {
        throw UnsupportedError(source + ": tokenizer.ggml.model " + inQuotes(model) + " is not supported (gpt2 or llama)");
    }

    const auto& tokenValues = ggufArray(file, source, "tokenizer.ggml.tokens");
    if (static_cast<std::int64_t>(tokenValues.size()) > kMaxVocab)
        fail(source, "tokenizer.ggml.tokens: " + std::to_string(tokenValues.size()) + " tokens");
    std::vector<std::string> list;
    list.reserve(tokenValues.size());
    for (std::size_t i = 0; i < tokenValues.size(); ++i) {
        const auto* s = std::get_if<std::string>(&tokenValues[i].value);
        if (!s)
            fail(source, "tokenizer.ggml.tokens[" + std::to_string(i) + "]: expected a string");
        list.push_back(*s);
    }
    impl->setTokens(std::move(list));

    if (impl->kind == Kind::ByteLevelBpe) {
        const auto& merges = ggufArray(file, source, "tokenizer.ggml.merges");
        for (std::size_t i = 0; i < merges.size(); ++i) {
            const auto* s = std::get_if<std::string>(&merges[i].value);
            const std::size_t space = s ? s->find(' ') : std::string::npos;
            if (!s || space == std::string::npos || space == 0 || space + 1 == s->size() ||
                s->find(' ', space + 1) != std::string::npos)
                fail(source, "tokenizer.ggml.merges[" + std::to_string(i) + "]: expected two tokens separated by one space");
            impl->addMerge(std::string_view(*s).substr(0, space), std::string_view(*s).substr(space + 1),
                           static_cast<std::int32_t>(i));
        }
    } else {
        // llama.cpp's SentencePiece tokenizer merges by score even when merges are stored.
        const auto& scores = ggufArray(file, source, "tokenizer.ggml.scores");
        if (scores.size() != impl->tokens.size())
            fail(source, "tokenizer.ggml.scores: " + std::to_string(scores.size()) + " scores for " +
                             std::to_string(impl->tokens.size()) + " tokens");
        impl->scores.reserve(scores.size());
        for (std::size_t i = 0; i < scores.size(); ++i) {
            const auto* d = std::get_if<double>(&scores[i].value);
            if (!d)
                fail(source, "tokenizer.ggml.scores[" + std::to_string(i) + "]: expected a float");
            impl->scores.push_back(static_cast<float>(*d));
        }
    }
    // Control (3) and user-defined (4) tokens are the added tokens.
    const auto& types = ggufArray(file, source, "tokenizer.ggml.token_type", false);
    if (!types.empty() && types.size() != impl->tokens.size())
        fail(source, "tokenizer.ggml.token_type: " + std::to_string(types.size()) + " types for " +
                         std::to_string(impl->tokens.size()) + " tokens");
    for (std::size_t i = 0; i < types.size(); ++i) {
        const std::string key = "tokenizer.ggml.token_type[" + std::to_string(i) + "]";
        std::uint64_t type = 0;
        try {
            type = types[i].toUInt(key);
        } catch (const Error& e) {
            fail(source, e.what());
        }
        if ((type == 3 || type == 4) && !impl->tokens[i].empty())
            impl->added.emplace_back(impl->tokens[i], static_cast<std::int32_t>(i));
    }

    const auto id = [&](const char* key) -> std::optional<std::int32_t> {
        const GgufValue* v = file.find(key);
        if (!v)
            return std::nullopt;
        std::uint64_t u = 0;
        try {
            u = v->toUInt(key);
        } catch (const Error& e) {
            fail(source, e.what());
        }
        if (u >= impl->tokens.size())
            fail(source, std::string(key) + ": " + std::to_string(u) + " is out of range (vocabulary of " +
                             std::to_string(impl->tokens.size()) + ")");
        return static_cast<std::int32_t>(u);
    };
    impl->special.bos = id("tokenizer.ggml.bos_token_id");
    impl->special.eos = id("tokenizer.ggml.eos_token_id");
    impl->special.unk = id("tokenizer.ggml.unknown_token_id");
    impl->special.pad = id("tokenizer.ggml.padding_token_id");
    impl->finish();
    return Tokenizer(std::move(impl));
}

} // namespace leger
