// rose_ash.h — telling the reference host's data directory from a store.
//
// The reference (OCaml) host keeps its data as DIR/streams/<hex>.log and
// <hex>.seq, DIR/kv/<hex> and DIR/blobs/. Such a directory is not an sx
// store: opening it as one is an error that names the import command
// (`sx store import NEWDIR --from rose-ash DIR`), never an empty store.
#pragma once

#include <string>

#include "host/store/env.h"

namespace sx::store {

// True when dir has no store marker and no segment file, and has a streams/
// or kv/ folder.
bool LooksLikeRoseAshDir(Env* env, const std::string& dir);

// "DIR is a data directory of the reference host, not an sx store; ..."
std::string RoseAshHint(const std::string& dir);

}  // namespace sx::store
