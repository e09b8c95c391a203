// One evaluation pass: everything a rule set's evaluate() (or one expression) computes for one
// request. lower() of a field is computed once per pass and shared by every rule, in
// per-thread buffers that keep their capacity (no allocation once warm).
#pragma once

#include "compiled_expression.hpp"

namespace callsign::rules {

// Starts a pass: forgets the values computed for the previous request on this thread.
void begin_pass() noexcept;
// Evaluates within the current pass; `fields` must be the same object for the whole pass.
bool evaluate_in_pass(const compiled_expression& e, const request_fields& fields);

}  // namespace callsign::rules
