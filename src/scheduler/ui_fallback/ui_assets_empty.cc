// Fallback for builds without ui/dist/ (see ui_assets.h): no asset is embedded, so the UI
// listener answers "/" with 503 and keeps serving its JSON API.
#include "scheduler/ui_assets.h"

namespace hami::scheduler {

const EmbeddedFile* FindEmbeddedAsset(std::string_view /*path*/) { return nullptr; }

}  // namespace hami::scheduler
