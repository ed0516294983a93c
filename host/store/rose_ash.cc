#include "host/store/rose_ash.h"

#include <vector>

#include "host/store/log_format.h"
#include "host/store/log_record.h"

namespace sx::store {

bool LooksLikeRoseAshDir(Env* env, const std::string& dir) {
  if (!env->DirExists(dir)) return false;
  std::vector<std::string> names;
  if (!env->ListDir(dir, &names).ok()) return false;
  bool folder = false;
  for (const std::string& name : names) {
    uint32_t n;
    if (name == log::kMarkerFileName || ParseSegmentFileName(name, &n)) return false;
    if (name == "streams" || name == "kv") folder = folder || env->DirExists(dir + "/" + name);
  }
  return folder;
}

std::string RoseAshHint(const std::string& dir) {
  return dir +
         " is a data directory of the reference host (streams/, kv/), not an sx store; to move "
         "its data into a store, run: sx store import NEWDIR --from rose-ash " +
         dir;
}

}  // namespace sx::store
