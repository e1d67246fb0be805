// The corpus replay test (a regular CTest test, any compiler): runs every
// file of tests/fuzz/corpus/<target>/ through its fuzz target once. A crash,
// an abort or an unexpected exception fails the test and names the file.
#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <vector>

#include "fuzz_target.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fuzz_corpus_replay CORPUS_DIR (holding one folder per target)\n";
    return 2;
  }
  namespace fs = std::filesystem;
  const fs::path root = argv[1];
  int failures = 0;
  for (const auto& [name, fn] : gg::fuzz::targets()) {
    const fs::path dir = root / name;
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_regular_file()) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    if (files.empty()) {
      std::cerr << name << ": no seed corpus in " << dir << "\n";
      ++failures;
      continue;
    }
    for (const auto& f : files) {
      std::ifstream in(f, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      try {
        fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      } catch (const std::exception& e) {
        std::cerr << name << ": " << f << ": unexpected exception: " << e.what() << "\n";
        ++failures;
      }
    }
    std::cout << name << ": " << files.size() << " inputs replayed\n";
  }
  return failures == 0 ? 0 : 1;
}
