#include "storage/lists/hash_set_builder.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "crypto/sha256_stream.hpp"

namespace callsign::storage {
namespace {

__extension__ using u128 = unsigned __int128;

// Entries are held as integers whose numeric order is the entries' byte order: the entry's
// bytes, big-endian, left-aligned in 128 bits.
u128 to_key(std::span<const std::uint8_t> entry) noexcept {
  u128 v = 0;
  for (std::size_t i = 0; i < 16; ++i) v = (v << 8) | (i < entry.size() ? entry[i] : 0U);
  return v;
}

void to_bytes(u128 key, std::uint8_t* out, std::size_t width) noexcept {
  for (std::size_t i = 0; i < width; ++i) out[i] = static_cast<std::uint8_t>(key >> (120 - 8 * i));
}

error io_error(const std::filesystem::path& path, std::string_view what) {
  return make_error(error_kind::unavailable,
                    std::string(what) + " " + path.string() + ": " + std::strerror(errno));
}

struct file_closer {
  void operator()(std::FILE* f) const noexcept {
    if (f != nullptr) std::fclose(f);
  }
};
using file_ptr = std::unique_ptr<std::FILE, file_closer>;

// Buffered reader of one run file.
struct run_reader {
  file_ptr file;
  std::vector<std::uint8_t> buffer;
  std::size_t pos = 0;
  std::size_t size = 0;
  std::size_t width = 0;

  bool next(u128& key) {
    if (pos == size) {
      size = std::fread(buffer.data(), 1, buffer.size(), file.get());
      size -= size % width;
      pos = 0;
      if (size == 0) return false;
    }
    key = to_key({buffer.data() + pos, width});
    pos += width;
    return true;
  }
};

}  // namespace

struct hash_set_builder::state {
  std::filesystem::path out;
  std::filesystem::path tmp;
  hash_set_build_options options;
  std::size_t width = 0;
  std::vector<u128> buffer;
  std::size_t buffer_capacity = 0;
  std::vector<std::filesystem::path> runs;
  std::uint64_t added = 0;
  std::size_t runs_spilled = 0;  // runs are removed after the merge; this count stays
  bool finished = false;

  result<void> spill() {
    std::sort(buffer.begin(), buffer.end());
    buffer.erase(std::unique(buffer.begin(), buffer.end()), buffer.end());
    std::filesystem::path path = out;
    path += ".run-" + std::to_string(runs.size());
    file_ptr file(std::fopen(path.c_str(), "wb"));
    if (!file) return io_error(path, "cannot create run file");
    runs.push_back(path);
    ++runs_spilled;
    std::vector<std::uint8_t> chunk(width * 65536);
    std::size_t used = 0;
    for (std::size_t i = 0; i < buffer.size(); ++i) {
      to_bytes(buffer[i], chunk.data() + used, width);
      used += width;
      if (used == chunk.size() || i + 1 == buffer.size()) {
        if (std::fwrite(chunk.data(), 1, used, file.get()) != used) return io_error(path, "cannot write run file");
        used = 0;
      }
    }
    if (std::fflush(file.get()) != 0) return io_error(path, "cannot write run file");
    buffer.clear();
    return {};
  }

  void remove_temporaries() noexcept {
    std::error_code ignored;
    for (const auto& run : runs) std::filesystem::remove(run, ignored);
    runs.clear();
    if (!finished) std::filesystem::remove(tmp, ignored);
  }
};

hash_set_builder::hash_set_builder(std::unique_ptr<state> s) noexcept : state_(std::move(s)) {}
hash_set_builder::hash_set_builder(hash_set_builder&&) noexcept = default;
hash_set_builder& hash_set_builder::operator=(hash_set_builder&&) noexcept = default;

hash_set_builder::~hash_set_builder() {
  if (state_) state_->remove_temporaries();
}

result<hash_set_builder> hash_set_builder::create(const std::filesystem::path& out,
                                                  const hash_set_build_options& options) {
  auto s = std::make_unique<state>();
  s->out = out;
  s->tmp = out;
  s->tmp += ".tmp";
  s->options = options;
  s->width = hash_set_entry_width(options.kind);
  if (s->width == 0) return make_error(error_kind::invalid_input, "unknown set kind");
  s->buffer_capacity = std::max<std::size_t>(options.run_bytes / sizeof(u128), 1024);
  // Before any input is read (a HIBP dump takes hours): the output must be writable, so a
  // wrong --out fails at once, not after the sort.
  std::error_code ec;
  if (std::filesystem::is_directory(out, ec)) {
    return make_error(error_kind::invalid_input, "cannot write " + out.string() + ": it is a directory");
  }
  const bool existed = std::filesystem::exists(s->tmp, ec);
  const int probe = ::open(s->tmp.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (probe < 0) {
    return make_error(error_kind::unavailable, "cannot create " + s->tmp.string() + ": " + std::strerror(errno));
  }
  ::close(probe);
  if (!existed) std::filesystem::remove(s->tmp, ec);
  s->buffer.reserve(s->buffer_capacity);
  return hash_set_builder(std::move(s));
}

std::uint64_t hash_set_builder::added() const noexcept { return state_->added; }
std::size_t hash_set_builder::runs_written() const noexcept { return state_->runs_spilled; }

result<void> hash_set_builder::add(std::span<const std::uint8_t> entry) {
  if (entry.size() != state_->width) return make_error(error_kind::invalid_input, "entry has the wrong width");
  state_->buffer.push_back(to_key(entry));
  ++state_->added;
  if (state_->buffer.size() >= state_->buffer_capacity) return state_->spill();
  return {};
}

result<hash_set_header> hash_set_builder::finish() {
  state& s = *state_;
  if (!s.buffer.empty() || s.runs.empty()) {
    if (auto spilled = s.spill(); !spilled) return spilled.error();
  }
  std::vector<run_reader> readers;
  readers.reserve(s.runs.size());
  for (const auto& path : s.runs) {
    file_ptr file(std::fopen(path.c_str(), "rb"));
    if (!file) return io_error(path, "cannot reopen run file");
    readers.push_back(run_reader{std::move(file), std::vector<std::uint8_t>(s.width * 65536), 0, 0, s.width});
  }
  file_ptr out(std::fopen(s.tmp.c_str(), "wb"));
  if (!out) return io_error(s.tmp, "cannot create");
  hash_set_header header;
  header.kind = s.options.kind;
  if (s.options.kind == hash_set_kind::credentials) header.key_id = s.options.key_id;
  auto placeholder = encode_hash_set_header(header);
  if (std::fwrite(placeholder.data(), 1, placeholder.size(), out.get()) != placeholder.size()) {
    return io_error(s.tmp, "cannot write");
  }

  using item = std::pair<u128, std::size_t>;
  std::priority_queue<item, std::vector<item>, std::greater<>> heap;
  for (std::size_t i = 0; i < readers.size(); ++i) {
    u128 key = 0;
    if (readers[i].next(key)) heap.emplace(key, i);
  }
  crypto::sha256_stream digest;
  std::vector<std::uint8_t> chunk(s.width * 65536);
  std::size_t used = 0;
  bool have_last = false;
  u128 last = 0;
  auto flush = [&]() -> bool {
    digest.update({chunk.data(), used});
    const bool ok = std::fwrite(chunk.data(), 1, used, out.get()) == used;
    used = 0;
    return ok;
  };
  // The page index: the first 8 bytes of the first entry of every 4 KiB page (16 MB at a
  // billion 8-byte entries), written after the entries.
  std::vector<std::uint8_t> page_index;
  while (!heap.empty()) {
    const auto [key, run] = heap.top();
    heap.pop();
    if (!have_last || key != last) {
      to_bytes(key, chunk.data() + used, s.width);
      if ((hash_set_header_size + header.count * s.width) % hash_set_page_size == 0 || header.count == 0) {
        page_index.insert(page_index.end(), chunk.data() + used, chunk.data() + used + hash_set_index_entry_size);
      }
      used += s.width;
      ++header.count;
      last = key;
      have_last = true;
      if (used == chunk.size() && !flush()) return io_error(s.tmp, "cannot write");
    }
    u128 following = 0;
    if (readers[run].next(following)) heap.emplace(following, run);
  }
  if (used > 0 && !flush()) return io_error(s.tmp, "cannot write");
  if (header.count > hash_set_max_entries(s.width)) return make_error(error_kind::invalid_input, "too many entries");
  if (!page_index.empty()) {
    digest.update(page_index);
    if (std::fwrite(page_index.data(), 1, page_index.size(), out.get()) != page_index.size()) {
      return io_error(s.tmp, "cannot write");
    }
  }
  header.checksum = digest.finish();
  const auto final_header = encode_hash_set_header(header);
  if (std::fseek(out.get(), 0, SEEK_SET) != 0 ||
      std::fwrite(final_header.data(), 1, final_header.size(), out.get()) != final_header.size() ||
      std::fflush(out.get()) != 0 || ::fsync(::fileno(out.get())) != 0) {
    return io_error(s.tmp, "cannot write");
  }
  out.reset();
  readers.clear();
  std::error_code ec;
  std::filesystem::rename(s.tmp, s.out, ec);
  if (ec) return make_error(error_kind::unavailable, "cannot rename into " + s.out.string() + ": " + ec.message());
  s.finished = true;
  s.remove_temporaries();
  const auto dir = s.out.has_parent_path() ? s.out.parent_path() : std::filesystem::path(".");
  if (const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
  return header;
}

}  // namespace callsign::storage
