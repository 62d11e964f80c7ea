// The web UI embedded in hami-scheduler (cmake/embed_assets.cmake) is byte for byte the committed
// ui/dist/, with the right content types, and the page loads nothing from outside the binary.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "scheduler/ui_assets.h"

namespace hami::scheduler {
namespace {

namespace fs = std::filesystem;

fs::path DistDir() {
  return fs::path(__FILE__).parent_path().parent_path().parent_path() / "ui" / "dist";
}

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ExpectedType(const std::string& rel) {
  const std::string ext = fs::path(rel).extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".json") return "application/json";
  return "";
}

class UiEmbeddedAssetsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(DistDir() / "index.html"))
      GTEST_SKIP() << "no ui/dist: the fallback embeds nothing";
  }
};

TEST_F(UiEmbeddedAssetsTest, EveryDistFileIsEmbeddedUnchanged) {
  int files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(DistDir())) {
    if (!entry.is_regular_file()) continue;
    const std::string rel = fs::relative(entry.path(), DistDir()).generic_string();
    const EmbeddedFile* f = FindEmbeddedAsset(rel);
    ASSERT_NE(f, nullptr) << rel << " is in ui/dist but not embedded (rebuild hami_scheduler)";
    EXPECT_EQ(f->path, rel);
    EXPECT_EQ(f->data, ReadAll(entry.path())) << rel << " differs from the embedded copy";
    const std::string want = ExpectedType(rel);
    if (!want.empty()) EXPECT_EQ(f->content_type, want) << rel;
    ++files;
  }
  EXPECT_GE(files, 3);  // index.html, assets/app.js, assets/app.css
}

TEST_F(UiEmbeddedAssetsTest, FixedNamesAndUnknownPaths) {
  for (const char* name : {"index.html", "assets/app.js", "assets/app.css"}) {
    const EmbeddedFile* f = FindEmbeddedAsset(name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_FALSE(f->data.empty()) << name;
  }
  EXPECT_EQ(FindEmbeddedAsset(""), nullptr);
  EXPECT_EQ(FindEmbeddedAsset("/index.html"), nullptr);  // paths carry no leading '/'
  EXPECT_EQ(FindEmbeddedAsset("assets/missing.js"), nullptr);
  EXPECT_EQ(FindEmbeddedAsset("../CMakeLists.txt"), nullptr);
}

// Works under any sub-path and air-gapped: index.html refers to its assets relatively, and no
// embedded file names a URL other than the XML namespaces the renderer compares against.
TEST_F(UiEmbeddedAssetsTest, RelativeUrlsAndNothingExternal) {
  const EmbeddedFile* index = FindEmbeddedAsset("index.html");
  ASSERT_NE(index, nullptr);
  const std::string html(index->data);
  EXPECT_NE(html.find("src=\"./assets/app.js\""), std::string::npos) << html;
  EXPECT_NE(html.find("href=\"./assets/app.css\""), std::string::npos) << html;
  EXPECT_EQ(html.find("src=\"/"), std::string::npos) << "absolute asset URL in index.html";
  EXPECT_EQ(html.find("href=\"/"), std::string::npos) << "absolute asset URL in index.html";
  const std::set<std::string> allowed = {"http://www.w3.org/1998/Math/MathML",
                                         "http://www.w3.org/1999/xhtml",
                                         "http://www.w3.org/2000/svg"};
  const std::regex url(R"(https?://[A-Za-z0-9._~:/?#@!$&'*+,;=%-]*[A-Za-z0-9/])");
  for (const char* name : {"index.html", "assets/app.js", "assets/app.css"}) {
    const EmbeddedFile* f = FindEmbeddedAsset(name);
    ASSERT_NE(f, nullptr);
    const std::string text(f->data);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), url);
         it != std::sregex_iterator(); ++it) {
      EXPECT_TRUE(allowed.contains(it->str())) << name << " refers to " << it->str();
    }
  }
}

}  // namespace
}  // namespace hami::scheduler
