// A stand-in for libFuzzer where it is not linked (gcc builds, ctest): runs
// a fuzz target on every file of its seed corpora, then on a number of
// mutations of them (bit flips, byte changes, insertions, deletions,
// repeats and splices), from a fixed seed so that a run can be repeated.
//
//   <target> [-runs=N] [-seed=S] CORPUS_DIR_OR_FILE...
//
// A crash ends the process (and the test) with the input that caused it
// written to ./crash-<target>-<n>.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

std::string Mutate(const std::vector<std::string>& corpus, std::mt19937_64& rng) {
  std::string s = corpus[rng() % corpus.size()];
  const int steps = 1 + static_cast<int>(rng() % 4);
  static const char kInteresting[] = {'\0', '"', '\\', '{', '}', '[',  ']',    ',',    ':',
                                      '-',  '0', '9',  'e', 'E', '\n', '\xff', '\x80', ' '};
  for (int i = 0; i < steps; ++i) {
    const size_t at = s.empty() ? 0 : rng() % s.size();
    switch (rng() % 7) {
      case 0:
        if (!s.empty()) s[at] = static_cast<char>(s[at] ^ (1 << (rng() % 8)));
        break;
      case 1:
        if (!s.empty()) s[at] = kInteresting[rng() % sizeof kInteresting];
        break;
      case 2:
        s.insert(at, 1 + rng() % 8, static_cast<char>(rng()));
        break;
      case 3:
        if (!s.empty()) s.erase(at, 1 + rng() % std::min<size_t>(s.size() - at, 64));
        break;
      case 4: {  // repeat a piece
        if (s.empty()) break;
        const size_t n = 1 + rng() % std::min<size_t>(s.size() - at, 32);
        s.insert(at, s.substr(at, n));
        break;
      }
      case 5: {  // splice in a piece of another input
        const std::string& other = corpus[rng() % corpus.size()];
        if (other.empty()) break;
        const size_t from = rng() % other.size();
        s.insert(at, other.substr(from, 1 + rng() % std::min<size_t>(other.size() - from, 64)));
        break;
      }
      default:
        if (!s.empty()) s.resize(at);  // truncate
        break;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t runs = 10000, seed = 1;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.starts_with("-runs=")) {
      runs = std::stoull(arg.substr(6));
    } else if (arg.starts_with("-seed=")) {
      seed = std::stoull(arg.substr(6));
    } else {
      std::vector<std::filesystem::path> files;
      if (std::filesystem::is_directory(arg)) {
        for (const auto& e : std::filesystem::directory_iterator(arg)) files.push_back(e.path());
      } else {
        files.emplace_back(arg);
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        corpus.push_back(ss.str());
      }
    }
  }
  if (corpus.empty()) corpus.emplace_back();
  const std::string name = std::filesystem::path(argv[0]).filename().string();
  auto run = [&](const std::string& input, uint64_t n) {
    // Written first, so that a crash leaves it behind; removed after.
    const std::string path = "crash-" + name + "-" + std::to_string(n);
    std::ofstream(path, std::ios::binary) << input;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    std::filesystem::remove(path);
  };
  uint64_t n = 0;
  for (const std::string& input : corpus) run(input, n++);
  std::mt19937_64 rng(seed);
  for (uint64_t i = 0; i < runs; ++i) run(Mutate(corpus, rng), n++);
  std::printf("%s: %llu inputs (%zu seeds, %llu mutations), no crash\n", name.c_str(),
              static_cast<unsigned long long>(n), corpus.size(),
              static_cast<unsigned long long>(runs));
  return 0;
}
