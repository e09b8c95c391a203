// One evaluation pass: everything a rule set's evaluate() (or one expression) computes for one
// request. lower() of a field, a header's value and each shared leaf's result (compiler.cpp)
// are computed once per pass and shared by every rule, in per-thread buffers that keep their
// capacity (no allocation once warm).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "compiled_expression.hpp"

namespace callsign::rules {

// One per thread (evaluator.cpp).
struct pass_state {
  std::uint64_t pass = 0;
  std::array<std::uint64_t, field_count> lowered_in{};  // the pass each lowered[f] belongs to
  std::array<std::string, field_count> lowered;
  std::vector<std::string> buffers;  // lower() of anything else, one per lower() in an expression
  std::vector<std::uint64_t> header_in;  // by header slot: the pass header_value belongs to
  std::vector<std::string_view> header_value;
  std::vector<std::uint8_t> leaf;  // by leaf slot: 0 not yet computed in this pass, 1 false, 2 true
};

// True when a leaf the expression requires is already known false in this pass.
inline bool ruled_out(const pass_state& s, const guard_set& g) noexcept {
  for (std::uint32_t k = 0; k < g.count; ++k) {
    if (s.leaf[g.slots[k]] == 1) return true;
  }
  return false;
}

// Starts a pass on this thread: forgets the values computed for the previous request, and
// sizes the state for every expression of one file.
pass_state& begin_pass(const pass_needs& needs);
// Evaluates `e` (its code at `code` in `shared`, its file's) within the pass; `fields` must be
// the same object for the whole pass, and `shared` the one whose needs began it.
bool evaluate_in_pass(pass_state& s, const file_shared& shared, const code_at& code, const compiled_expression& e,
                      const request_fields& fields);

}  // namespace callsign::rules
