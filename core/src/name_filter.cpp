#include "name_filter.hpp"

#include <xxhash.h>

namespace restorekit::core::detail {

namespace {

std::uint64_t hash_of(std::string_view text) {
  std::uint64_t h = XXH3_64bits(text.data(), text.size());
  return h == 0 ? 1 : h;
}

}  // namespace

std::optional<std::uint64_t> NameFilter::HashSet::find_or_insert(std::uint64_t hash,
                                                                 std::uint64_t value) {
  reserve_more(1);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.hash == hash) return s.value;
    if (s.hash == 0) {
      s = Slot{hash, value};
      ++size_;
      return std::nullopt;
    }
  }
}

bool NameFilter::HashSet::contains(std::uint64_t hash) const {
  if (slots_.empty()) return false;
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    if (slots_[i].hash == hash) return true;
    if (slots_[i].hash == 0) return false;
  }
}

void NameFilter::HashSet::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.empty() ? 256 : old.size() * 2, Slot{});
  std::size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (s.hash == 0) continue;
    std::size_t i = s.hash & mask;
    while (slots_[i].hash != 0) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void NameFilter::HashSet::reserve_more(std::size_t more) {
  while ((size_ + more) * 2 > slots_.size()) grow();
}

void NameFilter::HashSet::prefetch(std::uint64_t hash) const {
  if (!slots_.empty()) __builtin_prefetch(&slots_[hash & (slots_.size() - 1)]);
}

void NameFilter::HashSet::clear() {
  slots_ = {};
  size_ = 0;
}

void NameFilter::give_up() {
  gave_up_ = true;
  names_.clear();
  folders_.clear();
  last_parent_.reset();
}

void NameFilter::add_folder(std::uint64_t hash) {
  if (folders_.find_or_insert(hash, 0)) return;  // checked when it first came
  if (names_.contains(hash)) conflicts_ = true;
}

void NameFilter::add(std::span<const Name> names) {
  if (gave_up_) return;
  if (names_.size() + names.size() <= kMaxNames) names_.reserve_more(names.size());
  hashes_.clear();
  for (const auto& n : names) {
    std::uint64_t path_hash = hash_of(n.path);
    std::uint64_t key_hash = n.own_key ? hash_of(*n.own_key) : path_hash;
    if (!n.folder) names_.prefetch(key_hash);
    hashes_.push_back(path_hash);
    hashes_.push_back(key_hash);
  }
  for (std::size_t i = 0; i < names.size() && !gave_up_; ++i) {
    add(names[i], hashes_[2 * i], hashes_[2 * i + 1]);
  }
}

void NameFilter::add(const Name& name, std::uint64_t path_hash, std::uint64_t key_hash) {
  const auto& [index, path, own_key, folder, safe] = name;
  if (names_.size() >= kMaxNames || folders_.size() >= kMaxNames) return give_up();
  if (own_key) keyed_ = true;
  if (!folder) {
    auto first = names_.find_or_insert(key_hash, index);
    if (first && *first != index) duplicates_ = true;
  }
  if (safe) {
    // Every prefix up to a '/' is a folder of this path, as the walk reads them; an archive
    // lists a folder's entries together, so they are mostly the last path's.
    auto last_slash = path.rfind('/');
    auto parent = path.substr(0, last_slash == std::string_view::npos ? 0 : last_slash);
    if (!last_parent_ || parent != *last_parent_) {
      for (auto slash = path.find('/'); slash != std::string_view::npos;
           slash = path.find('/', slash + 1)) {
        add_folder(hash_of(path.substr(0, slash)));
      }
      last_parent_ = std::string(parent);
    }
    if (folder) {
      add_folder(path_hash);
    } else if (folders_.contains(path_hash)) {
      conflicts_ = true;
    }
  }
}

}  // namespace restorekit::core::detail
