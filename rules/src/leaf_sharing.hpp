// Work shared between the expressions of one file (compile_environment::share_work): a leaf
// whose key (test, value, literal) equals another's gets its result slot, computed once per
// pass; `contains` (2+ bytes), starts_with, ends_with and eq/ne of one value join a needle
// group, integer comparisons of one value an int_group, each answered whole on first use.
#pragma once

#include "compiled_expression.hpp"
#include "compiler.hpp"

namespace callsign::rules {

// Gives `op` (a leaf of `e`, about to be pushed) its slot and group, when it is worth one.
// A `matches` may get a prefilter (its atoms added to e's values, strings and prefilters).
void share_leaf(compile_environment& env, compiled_expression& e, bool_op& op);
// The slots `e` requires: the root's, or those of the leaves its top-level `and` requires.
guard_set guards_of(const compiled_expression& e);

}  // namespace callsign::rules
