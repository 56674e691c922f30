#include <restorekit/core/checksum_list.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include <xxhash.h>
#ifdef RESTOREKIT_XXH_DISPATCH
#include <xxh_x86dispatch.h>  // XXH3 with AVX2 / AVX-512 where the CPU has them
#endif

#include <fmt/format.h>

#include <restorekit/core/safe_path.hpp>

#include "checksum_line_reader.hpp"

namespace restorekit::core {

namespace {

struct Tag {
  std::string_view name;
  HashAlgorithm algorithm;
  std::size_t hex_digits;
};

constexpr Tag kTags[] = {{"XXH32", HashAlgorithm::kXxh32, 8},
                         {"XXH64", HashAlgorithm::kXxh64, 16},
                         {"XXH128", HashAlgorithm::kXxh128, 32},
                         {"XXH3", HashAlgorithm::kXxh3_64, 16}};

// ASCII only, without the locale: std::isxdigit and std::tolower are calls into the C library
// per character, most of the time of a list's lines.
constexpr std::array<bool, 256> kHexDigit = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : std::string_view("0123456789abcdefABCDEF")) t[c] = true;
  return t;
}();

bool is_hex_digit(char c) {
  return kHexDigit[static_cast<unsigned char>(c)];
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_hex_digit);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Little-endian digests are the canonical bytes reversed.
std::string canonical_hex(std::string_view hex, bool little_endian) {
  std::string out = lower(hex);
  if (!little_endian) return out;
  std::string reversed;
  for (std::size_t i = out.size(); i >= 2; i -= 2) reversed += out.substr(i - 2, 2);
  return reversed;
}

std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (++i == s.size()) return std::nullopt;
    if (s[i] == 'n')
      out += '\n';
    else if (s[i] == '\\')
      out += '\\';
    else
      return std::nullopt;
  }
  return out;
}

// "TAG (path) = hex" or "TAG_LE (path) = hex". Matched without building each prefix: this
// runs once per line of a list as long as the archive.
std::optional<ExpectedHash> parse_bsd(std::string_view line) {
  for (const auto& tag : kTags) {
    if (!line.starts_with(tag.name)) continue;
    std::string_view rest = line.substr(tag.name.size());
    bool le = rest.starts_with("_LE");
    if (le) rest.remove_prefix(3);
    if (!rest.starts_with(" (")) continue;  // "XXH3" also starts "XXH32", "XXH3_…"
    std::size_t prefix = line.size() - rest.size() + 2;
    auto close = line.rfind(") = ");
    if (close == std::string_view::npos || close < prefix) return std::nullopt;
    std::string_view hex = line.substr(close + 4);
    if (hex.size() != tag.hex_digits || !is_hex(hex)) return std::nullopt;
    return ExpectedHash{std::string(line.substr(prefix, close - prefix)), tag.algorithm,
                        canonical_hex(hex, le), 0};
  }
  return std::nullopt;
}

std::optional<ExpectedHash> parse_gnu(std::string_view line) {
  bool escaped = !line.empty() && line.front() == '\\';
  if (escaped) line.remove_prefix(1);
  auto space = line.find(' ');
  if (space == std::string_view::npos || space + 2 > line.size()) return std::nullopt;
  std::string_view hex = line.substr(0, space);
  char marker = line[space + 1];
  if ((marker != ' ' && marker != '*') || !is_hex(hex)) return std::nullopt;
  std::optional<HashAlgorithm> algorithm;
  for (const auto& tag : kTags) {
    if (tag.hex_digits == hex.size() && tag.algorithm != HashAlgorithm::kXxh3_64) {
      algorithm = tag.algorithm;
    }
  }
  if (!algorithm) return std::nullopt;
  std::string_view raw = line.substr(space + 2);
  auto path = escaped ? unescape(raw) : std::optional<std::string>(std::string(raw));
  if (!path || path->empty()) return std::nullopt;
  return ExpectedHash{std::move(*path), *algorithm, lower(hex), 0};
}

}  // namespace

std::string_view algorithm_name(HashAlgorithm algorithm) {
  switch (algorithm) {
    case HashAlgorithm::kXxh32: return "XXH32";
    case HashAlgorithm::kXxh64: return "XXH64";
    case HashAlgorithm::kXxh3_64: return "XXH3";
    case HashAlgorithm::kXxh128: return "XXH128";
  }
  return "XXH128";
}

Result<std::optional<ExpectedHash>> parse_checksum_line(std::string_view line, std::size_t number,
                                                        std::string_view name) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.empty() || line.front() == '#') return std::optional<ExpectedHash>{};
  auto parsed = parse_bsd(line);
  if (!parsed) parsed = parse_gnu(line);
  auto path = parsed ? normalize_entry_path(parsed->path) : Result<std::string>{};
  if (!parsed || !path) {
    return fail(ErrorCode::kInvalidArgument,
                fmt::format("{} line {} is not an xxhsum line with a safe relative path: \"{}\"",
                            name, number, line.substr(0, 200)),
                std::string(name));
  }
  parsed->path = std::move(*path);
  parsed->line = number;
  return parsed;
}

Result<std::vector<ExpectedHash>> parse_checksum_list(std::string_view text,
                                                      std::string_view name) {
  std::vector<ExpectedHash> out;
  std::size_t number = 0;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    RK_TRY_ASSIGN(auto parsed, parse_checksum_line(line, ++number, name));
    if (parsed) out.push_back(std::move(*parsed));
  }
  return out;
}

namespace detail {

Result<ChecksumLineReader> ChecksumLineReader::open(const std::filesystem::path& file,
                                                    std::string name) {
  ChecksumLineReader r;
  r.in_ = std::make_unique<std::ifstream>(file, std::ios::binary);
  if (!*r.in_) {
    int err = errno;
    return fail(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                fmt::format("cannot read {}: {}", file.string(), std::strerror(err)),
                file.string());
  }
  r.file_ = file;
  r.name_ = std::move(name);
  r.piece_.resize(64 * 1024);
  return r;
}

tl::unexpected<Error> ChecksumLineReader::too_long(std::size_t number) const {
  return fail(ErrorCode::kInvalidArgument,
              fmt::format("{} line {} is longer than {} bytes: not an xxhsum line", name_, number,
                          kMaxChecksumLine),
              name_);
}

Result<std::optional<std::string_view>> ChecksumLineReader::next_text() {
  for (;;) {
    std::string_view rest(piece_.data() + at_, end_ - at_);
    if (auto nl = rest.find('\n'); nl != std::string_view::npos) {
      at_ += nl + 1;
      if (carried_.empty()) return rest.substr(0, nl);
      carried_.append(rest.substr(0, nl));
      line_.swap(carried_);
      carried_.clear();
      return std::string_view(line_);
    }
    if (carried_.size() + rest.size() > kMaxChecksumLine) return too_long(number_ + 1);
    carried_.append(rest);
    at_ = end_ = 0;
    if (ended_) {
      if (carried_.empty()) return std::optional<std::string_view>{};
      line_.swap(carried_);
      carried_.clear();
      return std::string_view(line_);
    }
    in_->read(piece_.data(), static_cast<std::streamsize>(piece_.size()));
    end_ = static_cast<std::size_t>(in_->gcount());
    if (end_ == 0) {
      if (in_->bad()) {
        return fail(ErrorCode::kIo,
                    fmt::format("cannot read {}: {}", file_.string(), std::strerror(errno)),
                    file_.string());
      }
      ended_ = true;
    }
  }
}

Result<std::optional<ExpectedHash>> ChecksumLineReader::next() {
  for (;;) {
    RK_TRY_ASSIGN(auto text, next_text());
    if (!text) return std::optional<ExpectedHash>{};
    ++number_;
    if (text->size() > kMaxChecksumLine) return too_long(number_);
    RK_TRY_ASSIGN(auto parsed, parse_checksum_line(*text, number_, name_));
    if (parsed) return parsed;
  }
}

}  // namespace detail

Result<void> for_each_checksum_line(const std::filesystem::path& file, std::string_view name,
                                    const std::function<Result<void>(ExpectedHash&&)>& fn) {
  RK_TRY_ASSIGN(auto reader, detail::ChecksumLineReader::open(file, std::string(name)));
  for (;;) {
    RK_TRY_ASSIGN(auto line, reader.next());
    if (!line) return {};
    RK_TRY(fn(std::move(*line)));
  }
}

}  // namespace restorekit::core

namespace restorekit::core {

struct AnyHasher::State {
  HashAlgorithm algorithm;
  XXH32_state_t* s32 = XXH32_createState();
  XXH64_state_t* s64 = XXH64_createState();
  XXH3_state_t* s3 = XXH3_createState();
  explicit State(HashAlgorithm a) : algorithm(a) {
    XXH32_reset(s32, 0);
    XXH64_reset(s64, 0);
    if (a == HashAlgorithm::kXxh3_64) {
      XXH3_64bits_reset(s3);
    } else {
      XXH3_128bits_reset(s3);
    }
  }
  ~State() {
    XXH32_freeState(s32);
    XXH64_freeState(s64);
    XXH3_freeState(s3);
  }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

AnyHasher::AnyHasher(HashAlgorithm algorithm) : state_(std::make_unique<State>(algorithm)) {}
AnyHasher::~AnyHasher() = default;
AnyHasher::AnyHasher(AnyHasher&&) noexcept = default;
AnyHasher& AnyHasher::operator=(AnyHasher&&) noexcept = default;

void AnyHasher::update(std::span<const std::byte> d) {
  switch (state_->algorithm) {
    case HashAlgorithm::kXxh32: XXH32_update(state_->s32, d.data(), d.size()); break;
    case HashAlgorithm::kXxh64: XXH64_update(state_->s64, d.data(), d.size()); break;
    case HashAlgorithm::kXxh3_64: XXH3_64bits_update(state_->s3, d.data(), d.size()); break;
    case HashAlgorithm::kXxh128: XXH3_128bits_update(state_->s3, d.data(), d.size()); break;
  }
}

std::string AnyHasher::hex() const {
  switch (state_->algorithm) {
    case HashAlgorithm::kXxh32: return fmt::format("{:08x}", XXH32_digest(state_->s32));
    case HashAlgorithm::kXxh64: return fmt::format("{:016x}", XXH64_digest(state_->s64));
    case HashAlgorithm::kXxh3_64: return fmt::format("{:016x}", XXH3_64bits_digest(state_->s3));
    case HashAlgorithm::kXxh128: {
      XXH128_hash_t h = XXH3_128bits_digest(state_->s3);
      return fmt::format("{:016x}{:016x}", h.high64, h.low64);
    }
  }
  return {};
}

}  // namespace restorekit::core
