// dict.h — the persistent dict: an immutable hash array mapped trie.
//
// Keys are strings (a keyword key means the string of its name; callers
// convert). Every update returns a new Dict sharing all untouched nodes with
// the old one, so `assoc` on a dict of n entries allocates O(log32 n) nodes,
// never a copy of the whole map. reduce builds a dict through a transient,
// updated in place, when its callback only hands the accumulator on
// (DictAssocTransient). Nodes live on the Heap and are traced by the tracer
// RegisterDictTypes installs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

#include "interp/heap.h"
#include "interp/value.h"

namespace sx::interp {

// Dict::flags: the header is a transient (see DictAssocTransient).
constexpr uint16_t kDictTransient = 1;

struct Dict : Obj {
  size_t count;
  Obj* root;  // nullptr when empty; otherwise an internal node (dict.cc)
};

void RegisterDictTypes(Heap& heap);

Value DictEmpty(Heap& heap);
Value DictAssoc(Heap& heap, Value dict, String* key, Value val);
// As DictAssoc, for a dict whose owner gives up every other use of it: the
// caller promises that nothing else can see `dict` or anything derived from
// it until DictFreeze. The first call makes a transient header (kDictTransient)
// sharing the old nodes; from then on the header is updated in place, and so
// is every node it created, while nodes it shares with other dicts are copied
// before they change. Other dicts that share nodes never see a change.
Value DictAssocTransient(Heap& heap, Value dict, String* key, Value val);
// Ends a transient: the dict is an ordinary immutable value again, and its
// nodes can never change. Anything other than a transient dict is left alone.
void DictFreeze(Value dict);
Value DictDissoc(Heap& heap, Value dict, String* key);
Value DictGet(Value dict, String* key);  // Undefined when absent
inline Value DictGet(Value dict, Value key_string) { return DictGet(dict, AsString(key_string)); }
Value DictGetView(Heap& heap, Value dict,
                  std::string_view key);  // convenience, allocates nothing if found
size_t DictCount(Value dict);
// Unspecified order.
void DictForEach(Value dict, const std::function<void(String* key, Value val)>& fn);
// Sorted by key bytes: the order printing and `keys` use.
std::vector<std::pair<String*, Value>> DictEntriesSorted(Value dict);

// Content hash of a string, cached in its header.
uint32_t HashString(String* s);

// Test hook: replace the string hash (nullptr restores it) to force
// collisions. While set, hashes are not cached.
void SetDictHashForTesting(uint32_t (*hash)(std::string_view));

}  // namespace sx::interp
