// equal.h — equality and ordering of values.
//
// Equal is `equal?`: structural and exact — 1 and 1.0 differ, strings compare
// by bytes, lists and dicts deep, NaN equals NaN (so a value read back from its
// text equals the original). NumericEqual is `=`: as Equal, except that numbers
// compare by value at every depth (1 = 1.0). Both are iterative: nesting depth
// never touches the C++ stack.
#pragma once

#include "interp/value.h"

namespace sx::interp {

class State;

bool Equal(Value a, Value b);
bool NumericEqual(Value a, Value b);

// Total order used by `sort`, `<` on strings, and `min`/`max`:
// numbers by value, strings/symbols/keywords by bytes, lists lexicographically.
// Values of different kinds that have no order raise an SX error (ThrowError).
int Compare(State& S, Value a, Value b);

}  // namespace sx::interp
