// A checksum list file read one line at a time, pulled: the lines for_each_checksum_line()
// hands out (checksum_list.hpp), for a reader that walks the list alongside something else
// (ChecksumIndex's walk of a long list already in name-key order). Memory: one 64 KiB piece and
// one line. One thread at a time.
#pragma once

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <restorekit/core/checksum_list.hpp>
#include <restorekit/core/error.hpp>

namespace restorekit::core::detail {

class ChecksumLineReader {
 public:
  // `name` names the list in messages. @error kNotFound, kIo.
  [[nodiscard]] static Result<ChecksumLineReader> open(const std::filesystem::path& file,
                                                       std::string name);

  // The next line that holds a checksum (blank lines and comments are passed over); nullopt at
  // the end. @error as for_each_checksum_line().
  [[nodiscard]] Result<std::optional<ExpectedHash>> next();

 private:
  ChecksumLineReader() = default;
  // The next line's text without its newline (valid until the next call); nullopt at the end.
  Result<std::optional<std::string_view>> next_text();
  tl::unexpected<Error> too_long(std::size_t number) const;

  std::filesystem::path file_;
  std::string name_;
  std::unique_ptr<std::ifstream> in_;
  std::vector<char> piece_;
  std::size_t at_ = 0;  // the unread part of piece_: [at_, end_)
  std::size_t end_ = 0;
  bool ended_ = false;   // the file is read to its end
  std::string carried_;  // the start of a line the last piece ended in
  std::string line_;     // a line put together from pieces, handed out
  std::size_t number_ = 0;
};

}  // namespace restorekit::core::detail
