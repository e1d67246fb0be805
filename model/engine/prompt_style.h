// Style clauses of prompts and captions: the emoji data sets caption every
// image "<label>, <keywords>, <style> style" ("pizza, cheese, noto style"),
// and a model package lists the style words its training data had, so the
// studio and `gigagan generate --style` can offer them.
#pragma once
#include <string>
#include <vector>

namespace gg {

constexpr size_t kMaxPackageStyles = 64;
constexpr size_t kMaxStyleWordBytes = 32;

// The style word of a caption ("noto", "twemoji") from its "<style> style"
// suffix (after the last space or comma), or "" when there is none.
std::string caption_style(const std::string& caption);
// The caption with its style word replaced (appended as ", <style> style" when
// it has none). An empty `style` removes the clause, with the ", " before it.
std::string with_style(const std::string& caption, const std::string& style);
// A valid style word: 1-32 bytes of a-z, 0-9 and '-'.
bool is_style_word(const std::string& word);
// Checks a package's list of style words: at most kMaxPackageStyles, each a
// valid style word, no repeats. Returns "" or what is wrong ("entry 3, 'No Style':
// ...") for the caller's error.
std::string check_style_words(const std::vector<std::string>& styles);

}  // namespace gg
