#include "shared_rows.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <utility>

#include <restorekit/core/fs.hpp>
#include <restorekit/core/hash.hpp>

#include "values.hpp"

namespace restorekit::diff::detail {

core::Cell KeyValue::cell() const {
  core::Cell c;
  c.type = type;
  c.integer = integer;
  c.real = real;
  c.bytes = std::as_bytes(std::span<const char>(bytes.data(), bytes.size()));
  return c;
}

namespace {

using Bytes = std::span<const std::byte>;

std::uint32_t be16(Bytes b, std::size_t at) {
  return (std::to_integer<std::uint32_t>(b[at]) << 8) | std::to_integer<std::uint32_t>(b[at + 1]);
}
std::uint32_t be32(Bytes b, std::size_t at) {
  return (be16(b, at) << 16) | be16(b, at + 2);
}

// SQLite's varint: 1 to 9 bytes, big-endian, 7 bits a byte but all 8 of the ninth.
bool varint(Bytes b, std::size_t& at, std::size_t end, std::uint64_t& out) {
  out = 0;
  for (int i = 0; i < 9; ++i) {
    if (at >= end) return false;
    auto byte = std::to_integer<std::uint64_t>(b[at++]);
    if (i == 8) {
      out = (out << 8) | byte;
      return true;
    }
    out = (out << 7) | (byte & 0x7f);
    if ((byte & 0x80) == 0) return true;
  }
  return true;
}

// One database file, read page by page.
class PageFile {
 public:
  static std::optional<PageFile> open(const std::filesystem::path& path) {
    PageFile f;
    f.fd_ = core::UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (!f.fd_ || ::fstat(f.fd_.get(), &st) != 0) return std::nullopt;
    std::byte head[100];
    if (::pread(f.fd_.get(), head, sizeof head, 0) != static_cast<ssize_t>(sizeof head) ||
        !core::has_sqlite_magic(Bytes(head, sizeof head))) {
      return std::nullopt;
    }
    f.page_size = be16(Bytes(head, sizeof head), 16);
    if (f.page_size == 1) f.page_size = 65536;
    if (f.page_size < 512 || f.page_size > 65536 || !std::has_single_bit(f.page_size))
      return std::nullopt;
    f.usable = f.page_size - std::to_integer<std::uint32_t>(head[20]);
    if (f.usable < 480) return std::nullopt;
    f.encoding = be32(Bytes(head, sizeof head), 56);
    f.pages = static_cast<std::uint64_t>(st.st_size) / f.page_size;
    return f;
  }

  [[nodiscard]] bool read(std::uint32_t page, std::vector<std::byte>& out) const {
    if (page == 0 || page > pages) return false;
    out.resize(page_size);
    return read_run(page, 1, out.data());
  }

  // Pages `first` .. `first + count - 1` into `out` (count pages' worth), in one read.
  [[nodiscard]] bool read_run(std::uint32_t first, std::uint32_t count, std::byte* out) const {
    auto offset = static_cast<off_t>(first - 1) * page_size;
    auto bytes = static_cast<std::size_t>(count) * page_size;
    return ::pread(fd_.get(), out, bytes, offset) == static_cast<ssize_t>(bytes);
  }

  std::uint32_t page_size = 0;
  std::uint32_t usable = 0;
  std::uint32_t encoding = 0;
  std::uint64_t pages = 0;

 private:
  core::UniqueFd fd_;
};

// The pages one walk of a tree reads, through a run of pages read at once where they come in
// file order, as the leaves and overflow chains of a table filled in key order mostly do (crm's
// diff: 31,374 preads of a page each, 16,215 with runs; 7% less time, the sample's 5%). The run
// doubles with every page that follows the one before, up to kRunBytes, and falls back to one
// page at a jump, so that a tree scattered over the file costs no more than a page a read.
// Memory: 64 KiB a walk.
class PageRuns {
 public:
  explicit PageRuns(const PageFile& file)
      : f_(file), max_run_(std::max<std::uint32_t>(1, kRunBytes / file.page_size)) {}

  [[nodiscard]] bool read(std::uint32_t page, std::vector<std::byte>& out) {
    if (page == 0 || page > f_.pages) return false;
    out.resize(f_.page_size);
    if (page < first_ || page >= first_ + count_) {
      run_ = page == last_ + 1 ? std::min(run_ * 2, max_run_) : 1;
      auto count = static_cast<std::uint32_t>(std::min<std::uint64_t>(run_, f_.pages - page + 1));
      if (count == 1) {
        last_ = page;
        count_ = 0;
        return f_.read_run(page, 1, out.data());
      }
      buffer_.resize(static_cast<std::size_t>(max_run_) * f_.page_size);
      if (!f_.read_run(page, count, buffer_.data())) return false;
      first_ = page;
      count_ = count;
    }
    last_ = page;
    std::memcpy(out.data(), buffer_.data() + static_cast<std::size_t>(page - first_) * f_.page_size,
                f_.page_size);
    return true;
  }

 private:
  static constexpr std::uint32_t kRunBytes = 64 * 1024;
  const PageFile& f_;
  std::uint32_t max_run_;  // pages in kRunBytes
  std::vector<std::byte> buffer_;
  std::uint32_t first_ = 0;  // the run in buffer_
  std::uint32_t count_ = 0;
  std::uint32_t last_ = 0;  // the page read last
  std::uint32_t run_ = 1;   // pages the next run reads
};

// A tree's size, about, from its leftmost path: the fan-outs of its interior pages multiplied
// (leaves), times the cells of its first leaf (rows). Zeros where a page does not parse.
struct TreeShape {
  std::uint64_t leaves = 0;
  std::uint64_t rows = 0;
};
TreeShape leftmost_path(const PageFile& f, std::uint32_t root) {
  std::vector<std::byte> buf;
  std::uint64_t leaves = 1;
  std::uint32_t page = root;
  for (int depth = 0; depth < 40 && f.read(page, buf); ++depth) {
    Bytes p(buf);
    std::size_t hdr = page == 1 ? 100 : 0;
    auto type = std::to_integer<unsigned>(p[hdr]);
    std::uint64_t cells = be16(p, hdr + 3);
    if (type == 0x0d || type == 0x0a) return {leaves, leaves * cells};
    if ((type != 0x05 && type != 0x02) || cells == 0 || hdr + 14 > f.usable) return {};
    leaves *= cells + 1;
    std::size_t at = be16(p, hdr + 12);  // the first cell: its left child
    if (at + 4 > f.usable) return {};
    page = be32(p, at);
  }
  return {};
}

bool holds_data(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  return !ec && size > 0;
}

}  // namespace

class PagePair {
 public:
  PagePair(PageFile live, PageFile backup) : live_(std::move(live)), backup_(std::move(backup)) {}
  [[nodiscard]] const PageFile& live() const { return live_; }
  [[nodiscard]] const PageFile& backup() const { return backup_; }

 private:
  PageFile live_;
  PageFile backup_;
};

bool live_journal_holds_data(const std::filesystem::path& live) {
  // The backup is read as immutable (its -wal ignored, as here); live's journals are not.
  auto name = live.string();
  return holds_data(name + "-wal") || holds_data(name + "-journal");
}

std::optional<std::shared_ptr<const PagePair>> open_page_pair(const std::filesystem::path& live,
                                                              const std::filesystem::path& backup) {
  auto l = PageFile::open(live);
  auto b = PageFile::open(backup);
  if (!l || !b || l->page_size != b->page_size || l->usable != b->usable ||
      l->encoding != b->encoding) {
    return std::nullopt;
  }
  return std::make_shared<const PagePair>(std::move(*l), std::move(*b));
}

std::uint64_t estimate_rows(const PagePair& files, std::uint32_t live_root) {
  return leftmost_path(files.live(), live_root).rows;
}

namespace {

// A piece of a tree in key order: a leaf page (all its rows), or in a WITHOUT ROWID table's
// tree a cell of an interior page (one row: such trees keep rows in interior pages too).
struct Element {
  core::Digest128 hash;
  std::uint64_t rows = 0;
  Key first;
  Key last;           // empty: the same as `first` (a row: no second copy of its key)
  bool page = false;  // a whole leaf page, which split() takes apart into its rows
  [[nodiscard]] const Key& end() const { return last.empty() ? first : last; }
};

// One cell of a page: where its payload is, and its overflow chain.
struct CellView {
  std::int64_t rowid = 0;
  std::size_t payload = 0;  // offset of the payload in the page
  std::uint64_t size = 0;   // payload bytes in all
  std::size_t local = 0;    // payload bytes in the page
  std::size_t end = 0;      // past the cell's bytes in the page (overflow pointer included)
  std::uint32_t overflow = 0;
};

// Parses the cell at `at` of a page of `f` (a table tree's or an index tree's; fileformat2 §1.6;
// payloads that spill keep a local part of the size the format fixes and a pointer to the first
// overflow page).
bool parse_cell(const PageFile& f, bool table_tree, Bytes p, std::size_t at, bool interior,
                CellView& c) {
  std::size_t end = f.usable;
  std::size_t pos = at + (interior ? 4 : 0);
  if (at >= end || pos > end || !varint(p, pos, end, c.size)) return false;
  if (table_tree) {
    std::uint64_t rowid = 0;
    if (!varint(p, pos, end, rowid)) return false;
    c.rowid = static_cast<std::int64_t>(rowid);
  }
  std::uint64_t u = f.usable;
  std::uint64_t max_local = table_tree ? u - 35 : (u - 12) * 64 / 255 - 23;
  std::uint64_t min_local = (u - 12) * 32 / 255 - 23;
  c.payload = pos;
  if (c.size <= max_local) {
    c.local = static_cast<std::size_t>(c.size);
    c.end = pos + c.local;
    c.overflow = 0;
    return c.end <= end;
  }
  if (c.size > f.pages * u) return false;  // more than the whole file
  std::uint64_t k = min_local + (c.size - min_local) % (u - 4);
  c.local = static_cast<std::size_t>(k <= max_local ? k : min_local);
  c.end = pos + c.local + 4;
  if (c.end > end) return false;
  c.overflow = be32(p, pos + c.local);
  return true;
}

// The first `key_columns` values of a record (fileformat2 §2.1), all within `payload`.
std::optional<Key> record_key(Bytes payload, std::size_t key_columns) {
  std::size_t pos = 0;
  std::uint64_t header = 0;
  if (!varint(payload, pos, payload.size(), header) || header > payload.size()) return {};
  std::size_t body = static_cast<std::size_t>(header);
  Key key;
  while (key.size() < key_columns) {
    std::uint64_t type = 0;
    if (!varint(payload, pos, body, type)) return {};
    KeyValue v;
    std::size_t n = 0;
    if (type >= 12) {
      n = static_cast<std::size_t>((type - 12) / 2);
      if (n > payload.size() - body) return {};
      v.type = type % 2 ? core::ValueType::kText : core::ValueType::kBlob;
      v.bytes.assign(reinterpret_cast<const char*>(payload.data() + body), n);
    } else if (type >= 1 && type <= 7) {
      static constexpr std::size_t kSize[] = {0, 1, 2, 3, 4, 6, 8, 8};
      n = kSize[type];
      if (n > payload.size() - body) return {};
      std::uint64_t bits = 0;
      for (std::size_t i = 0; i < n; ++i)
        bits = (bits << 8) | std::to_integer<std::uint64_t>(payload[body + i]);
      if (type == 7) {
        v.type = core::ValueType::kReal;
        v.real = std::bit_cast<double>(bits);
      } else {
        unsigned shift = static_cast<unsigned>(64 - 8 * n);  // sign-extend from n bytes
        v.integer = static_cast<std::int64_t>(bits << shift) >> shift;
      }
    } else if (type == 8 || type == 9) {
      v.integer = type == 9 ? 1 : 0;
    } else {
      return {};  // NULL (never in a primary key of a WITHOUT ROWID table) or reserved
    }
    body += n;
    key.push_back(std::move(v));
  }
  return key;
}

// A tree's elements in key order, one at a time (two trees are read in step), from a stack of
// its interior pages.
class TreeCursor {
 public:
  TreeCursor(const PageFile& file, std::size_t key_columns, std::uint32_t root)
      : f_(file),
        pages_(file),
        key_columns_(key_columns),
        root_(root),
        seen_(file.pages + 1),
        stack_(kMaxDepth) {}

  // The next element; nullopt at the end, or where the tree does not parse or its keys are out
  // of order (then failed()).
  std::optional<Element> next() {
    if (failed_) return std::nullopt;
    if (split_cell_ < split_cells_) return checked(row(split_cell_++));
    split_cells_ = 0;
    if (!started_) {
      started_ = true;
      if (auto e = enter(root_); e || failed_) return checked(std::move(e));
    }
    while (depth_ > 0) {
      Frame& f = stack_[depth_ - 1];
      std::uint32_t child = 0;
      if (f.divider_due) {  // the cell before the next child: a row of a WITHOUT ROWID tree
        f.divider_due = false;
        return checked(divider(Bytes(f.page), cell_at(f, f.index - 1)));
      }
      if (f.index < f.cells) {
        std::size_t at = cell_at(f, f.index++);
        if (at < f.ptrs + 2 * f.cells || at + 4 > f_.usable) return fail();
        child = be32(Bytes(f.page), at);
        f.divider_due = !table_tree();
      } else if (!f.right_done) {
        f.right_done = true;
        child = be32(Bytes(f.page), f.hdr + 8);
      } else {
        --depth_;
        continue;
      }
      if (auto e = enter(child); e || failed_) return checked(std::move(e));
    }
    return std::nullopt;
  }

  [[nodiscard]] bool failed() const { return failed_; }

  // The leaf page next() returned last, in place of it: its first row as an element of its own,
  // the others from the next calls of next(). Where two trees' pages differ, their rows may
  // still match one by one (a few rows of each page changed, or rows moved between pages).
  std::optional<Element> split() {
    split_cells_ = leaf_cells_;
    split_cell_ = 0;
    last_ = before_leaf_;
    return next();
  }

  static int compare(const Key& a, const Key& b) {
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      int c = compare_columns(a[i].cell(), b[i].cell(), Collation::kBinary);
      if (c != 0) return c;
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }

 private:
  static constexpr std::size_t kMaxDepth = 40;  // SQLite's own trees stay under 20 levels

  struct Frame {  // an interior page and where its walk is
    std::vector<std::byte> page;
    std::size_t hdr = 0;
    std::size_t ptrs = 0;
    std::size_t cells = 0;
    std::size_t index = 0;     // the next child
    bool divider_due = false;  // the cell before `index` is the next element
    bool right_done = false;   // the right-most child was visited
  };

  bool table_tree() const { return key_columns_ == 0; }
  std::optional<Element> fail() {
    failed_ = true;
    return std::nullopt;
  }
  static std::size_t cell_at(const Frame& f, std::size_t i) {
    return be16(Bytes(f.page), f.ptrs + 2 * i);
  }

  // Reads `page` one level below the stack's top: an interior page is pushed; a leaf is
  // returned as its element (none for an empty root leaf).
  std::optional<Element> enter(std::uint32_t page) {
    if (depth_ >= kMaxDepth || page == 0 || page > f_.pages || seen_[page]) return fail();
    seen_[page] = true;
    Frame& f = stack_[depth_];
    if (!pages_.read(page, f.page)) return fail();
    Bytes p(f.page);
    f.hdr = page == 1 ? 100 : 0;
    auto type = std::to_integer<unsigned>(p[f.hdr]);
    bool interior = type == (table_tree() ? 0x05u : 0x02u);
    if (!interior && type != (table_tree() ? 0x0du : 0x0au)) return fail();
    f.cells = be16(p, f.hdr + 3);
    f.ptrs = f.hdr + (interior ? 12 : 8);
    if (f.ptrs + 2 * f.cells > f_.usable) return fail();
    if (!interior) return leaf(p, f.ptrs, f.cells);
    f.index = 0;
    f.divider_due = false;
    f.right_done = false;
    ++depth_;
    return std::nullopt;
  }

  // Keys must rise from element to element (damage otherwise).
  std::optional<Element> checked(std::optional<Element> e) {
    if (!e) return e;
    if ((!last_.empty() && compare(last_, e->first) >= 0) || compare(e->first, e->end()) > 0)
      return fail();
    before_leaf_ = last_;  // copies into the keys' own storage: no allocation per row
    last_ = e->end();
    return e;
  }

  std::optional<Element> leaf(Bytes p, std::size_t ptrs, std::size_t cells) {
    if (cells == 0) return std::nullopt;  // an empty table's root
    core::Hasher h;
    h.update(std::string_view("leaf"));
    h.update(p);
    Element e;
    e.rows = cells;
    e.page = true;
    leaf_ = p;
    leaf_ptrs_ = ptrs;
    leaf_cells_ = cells;
    std::int64_t previous = 0;
    for (std::size_t i = 0; i < cells; ++i) {
      CellView c;
      if (!parse_cell(f_, table_tree(), p, be16(p, ptrs + 2 * i), false, c) ||
          !overflow(c, h, true))
        return fail();
      if (table_tree()) {
        if (i > 0 && c.rowid <= previous) return fail();
        previous = c.rowid;
        if (i == 0) e.first = Key{KeyValue{core::ValueType::kInteger, c.rowid, 0, {}}};
        if (i + 1 == cells) e.last = Key{KeyValue{core::ValueType::kInteger, c.rowid, 0, {}}};
      } else if (i == 0 || i + 1 == cells) {
        auto key = record_key(p.subspan(c.payload, c.local), key_columns_);
        if (!key) return fail();
        (i == 0 ? e.first : e.last) = std::move(*key);
      }
    }
    e.hash = h.digest();
    return e;
  }

  // Row `i` of the leaf split(): its key, and a hash of its cell (the rowid or the record, and
  // its overflow pages). Its overflow pages were checked when the leaf was read whole.
  std::optional<Element> row(std::size_t i) {
    Bytes p = leaf_;
    std::size_t at = be16(p, leaf_ptrs_ + 2 * i);
    CellView c;
    if (!parse_cell(f_, table_tree(), p, at, false, c)) return fail();
    core::Hasher h;
    h.update(std::string_view("row"));
    h.update(p.subspan(at, c.payload + c.local - at));
    if (!overflow(c, h, false)) return fail();
    Element e;
    e.rows = 1;
    if (table_tree()) {
      e.first = Key{KeyValue{core::ValueType::kInteger, c.rowid, 0, {}}};
    } else {
      auto key = record_key(p.subspan(c.payload, c.local), key_columns_);
      if (!key) return fail();
      e.first = std::move(*key);
    }
    e.hash = h.digest();
    return e;
  }

  // A WITHOUT ROWID tree's interior cell: a row of its own, between its child and the next.
  std::optional<Element> divider(Bytes p, std::size_t at) {
    CellView c;
    if (!parse_cell(f_, table_tree(), p, at, true, c)) return fail();
    core::Hasher h;
    h.update(std::string_view("cell"));
    h.update(p.subspan(at + 4, c.end - at - 4));  // not the child's page number
    if (!overflow(c, h, true)) return fail();
    auto key = record_key(p.subspan(c.payload, c.local), key_columns_);
    if (!key) return fail();
    Element e;
    e.rows = 1;
    e.first = std::move(*key);
    e.hash = h.digest();
    return e;
  }

  // Hashes the cell's overflow pages (each a next-page pointer, then content). `first`: the
  // first walk of this cell's chain, whose pages must not have been met before.
  bool overflow(const CellView& c, core::Hasher& h, bool first) {
    if (c.overflow == 0) return c.size == c.local;
    std::uint64_t left = c.size - c.local;
    std::uint32_t page = c.overflow;
    while (left > 0) {
      if (page == 0 || page > f_.pages || (first && seen_[page]) || !pages_.read(page, spill_))
        return false;
      seen_[page] = true;
      std::uint64_t here = std::min<std::uint64_t>(left, f_.usable - 4);
      h.update(Bytes(spill_).subspan(4, static_cast<std::size_t>(here)));
      left -= here;
      page = be32(Bytes(spill_), 0);
    }
    return page == 0;
  }

  const PageFile& f_;
  PageRuns pages_;
  std::size_t key_columns_;
  std::uint32_t root_;
  std::vector<bool> seen_;    // a page met twice is damage (or a cycle)
  std::vector<Frame> stack_;  // kMaxDepth frames, their buffers kept
  std::size_t depth_ = 0;
  std::vector<std::byte> spill_;
  Key last_;
  Key before_leaf_;  // last_ before the element next() returned last
  // The leaf next() returned last (its bytes stay in the frame just past the stack's top, where
  // enter() read it, until the walk goes on), and its rows still to hand out where it was split.
  Bytes leaf_;
  std::size_t leaf_ptrs_ = 0;
  std::size_t leaf_cells_ = 0;
  std::size_t split_cell_ = 0;
  std::size_t split_cells_ = 0;
  bool started_ = false;
  bool failed_ = false;
};

// Joins the elements both trees hold into runs: elements matched one after the other (nothing
// in either tree between them) make one run. Runs of fewer than kRangeCostRows rows are left to
// the merge: a range more to scan would cost more.
class RunBuilder {
 public:
  explicit RunBuilder(std::size_t max_runs) : max_runs_(max_runs) {}

  void match(Element& e) {
    ++matched_;
    if (open_) {
      open_->last = e.last.empty() ? std::move(e.first) : std::move(e.last);
      open_->rows += e.rows;
    } else if (runs_.size() < max_runs_) {
      Key last = e.end();
      open_ = SharedRun{std::move(e.first), std::move(last), e.rows};
    }
  }

  // An element only one tree holds: the run so far ends.
  void gap() {
    if (open_ && open_->rows >= kRangeCostRows) runs_.push_back(std::move(*open_));
    open_.reset();
  }

  [[nodiscard]] std::size_t matched() const { return matched_; }

  std::vector<SharedRun> finish() {
    gap();
    return std::move(runs_);
  }

 private:
  std::size_t max_runs_;
  std::size_t matched_ = 0;
  std::optional<SharedRun> open_;
  std::vector<SharedRun> runs_;
};

}  // namespace

std::optional<SharedRows> find_shared_runs(const PagePair& files, const TreePair& trees,
                                           std::size_t max_runs) {
  if (trees.key_columns > 0 && files.live().encoding != 1) return std::nullopt;  // UTF-8 keys only
  // Both trees are read in step, in key order: an element of one is matched with the element of
  // the other that starts at the same key, if their bytes hash alike.
  TreeCursor live(files.live(), trees.key_columns, trees.live_root);
  TreeCursor backup(files.backup(), trees.key_columns, trees.backup_root);
  SharedRows out;
  RunBuilder runs(max_runs);
  // A tree rewritten all over (every row changed) is given up once a quarter of its rows have
  // matched nothing: its pages are not worth reading on.
  TreeShape shape = leftmost_path(files.live(), trees.live_root);
  std::uint64_t give_up =
      std::max<std::uint64_t>(64, shape.leaves / 4) *
      std::max<std::uint64_t>(1, shape.rows / std::max<std::uint64_t>(1, shape.leaves));
  std::uint64_t read = 0;
  auto a = live.next();
  auto b = backup.next();
  while (a && b) {
    int c = TreeCursor::compare(a->first, b->first);
    if (c == 0 && a->hash == b->hash) {
      out.live_rows += a->rows;
      out.backup_rows += b->rows;
      read += a->rows;
      runs.match(*b);
      a = live.next();
      b = backup.next();
      continue;
    }
    // Leaf pages that differ but hold keys in common may still share most of their rows (a few
    // of them changed, or rows moved to a neighbouring page): they are compared row by row.
    bool apart =
        TreeCursor::compare(a->end(), b->first) < 0 || TreeCursor::compare(b->end(), a->first) < 0;
    if (!apart && a->page) {
      a = live.split();
      continue;
    }
    if (!apart && b->page) {
      b = backup.split();
      continue;
    }
    runs.gap();
    if (c <= 0) {
      out.live_rows += a->rows;
      read += a->rows;
      a = live.next();
    }
    if (c >= 0) {
      out.backup_rows += b->rows;
      read += b->rows;
      b = backup.next();
    }
    if (read >= give_up && runs.matched() == 0) return std::nullopt;
  }
  // The rest of each tree: its rows counted, its order checked.
  for (; a; a = live.next()) out.live_rows += a->rows;
  for (; b; b = backup.next()) out.backup_rows += b->rows;
  if (live.failed() || backup.failed()) return std::nullopt;
  out.runs = runs.finish();
  return out;
}

}  // namespace restorekit::diff::detail
