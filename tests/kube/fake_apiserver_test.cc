#include "tests/fakes/fake_apiserver.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "tests/fakes/json_patch.h"
#include "tests/fakes/selectors.h"

namespace hami::fakes {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr const char* kMerge = "application/merge-patch+json";
constexpr const char* kJsonPatch = "application/json-patch+json";
constexpr const char* kJson = "application/json";

json Pod(const std::string& name, const std::string& ns = "default", json labels = nullptr,
         const std::string& node = "") {
  json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "busybox"}}}}}}};
  if (!labels.is_null()) pod["metadata"]["labels"] = labels;
  if (!node.empty()) pod["spec"]["nodeName"] = node;
  return pod;
}

json Body(const httplib::Result& res) {
  if (!res) return json();
  return json::parse(res->body, nullptr, false);
}

std::string Rv(const json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }

// Reads a watch stream on its own thread, splitting it into events.
class WatchReader {
 public:
  WatchReader(FakeApiServer& server, const std::string& target) : server_(server) {
    std::string url = server.base_url();
    thread_ = std::thread([this, url, target] {
      httplib::Client client(url);
      client.set_read_timeout(3, 0);
      auto res = client.Get(target, [this](const char* data, size_t len) {
        std::lock_guard<std::mutex> lock(mu_);
        buffer_.append(data, len);
        for (size_t nl; (nl = buffer_.find('\n')) != std::string::npos;) {
          events_.push_back(json::parse(buffer_.substr(0, nl), nullptr, false));
          buffer_.erase(0, nl + 1);
        }
        cv_.notify_all();
        return !cancel_.load();
      });
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      status_ = res ? res->status : -1;
      cv_.notify_all();
    });
  }
  ~WatchReader() {
    server_.CloseWatches();
    thread_.join();
  }

  // The events received once there are at least `n` (or the timeout passed).
  std::vector<json> WaitEvents(size_t n, milliseconds timeout = milliseconds(1500)) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return events_.size() >= n || done_; });
    return events_;
  }
  // Whether the stream ended; `status` is the HTTP status (-1 on a transport error).
  bool WaitDone(milliseconds timeout, int* status = nullptr) {
    std::unique_lock<std::mutex> lock(mu_);
    bool done = cv_.wait_for(lock, timeout, [&] { return done_; });
    if (status != nullptr) *status = status_;
    return done;
  }
  // Makes the client hang up at the next data it receives.
  void Cancel() { cancel_ = true; }

 private:
  FakeApiServer& server_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string buffer_;
  std::vector<json> events_;
  bool done_ = false;
  int status_ = 0;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

class FakeApiServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::string> url = server_.Start();
    ASSERT_TRUE(url.ok()) << url.status().message();
    client_ = std::make_unique<httplib::Client>(*url);
    client_->set_read_timeout(2, 0);
  }

  json MustCreatePod(const json& pod) {
    std::string ns = pod["metadata"]["namespace"];
    auto res = client_->Post("/api/v1/namespaces/" + ns + "/pods", pod.dump(), kJson);
    EXPECT_TRUE(res && res->status == 201) << (res ? res->body : "no response");
    return Body(res);
  }

  FakeApiServer server_;  // declared first: outlives the client
  std::unique_ptr<httplib::Client> client_;
};

// ---- Objects, errors ----

TEST_F(FakeApiServerTest, CreateGetRoundTripAndErrors) {
  json created = MustCreatePod(Pod("p1"));
  EXPECT_EQ(created["kind"], "Pod");
  EXPECT_EQ(created["apiVersion"], "v1");
  EXPECT_FALSE(created["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(created["metadata"]["creationTimestamp"].get<std::string>().empty());
  EXPECT_EQ(Rv(created), std::to_string(server_.ResourceVersion()));
  EXPECT_EQ(created["status"]["phase"], "Pending");

  auto got = client_->Get("/api/v1/namespaces/default/pods/p1");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->get_header_value("Content-Type"), kJson);
  EXPECT_EQ(Body(got), created);

  auto dup = client_->Post("/api/v1/namespaces/default/pods", Pod("p1").dump(), kJson);
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->status, 409);
  json status = Body(dup);
  EXPECT_EQ(status["kind"], "Status");
  EXPECT_EQ(status["status"], "Failure");
  EXPECT_EQ(status["reason"], "AlreadyExists");
  EXPECT_EQ(status["code"], 409);
  EXPECT_EQ(status["details"], json({{"name", "p1"}, {"kind", "pods"}}));

  auto missing = client_->Get("/api/v1/namespaces/default/pods/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(Body(missing), json({{"kind", "Status"},
                                 {"apiVersion", "v1"},
                                 {"metadata", json::object()},
                                 {"status", "Failure"},
                                 {"message", "pods \"nope\" not found"},
                                 {"reason", "NotFound"},
                                 {"details", {{"name", "nope"}, {"kind", "pods"}}},
                                 {"code", 404}}));

  auto wrong_ns = client_->Post("/api/v1/namespaces/other/pods", Pod("p2").dump(), kJson);
  ASSERT_TRUE(wrong_ns);
  EXPECT_EQ(wrong_ns->status, 400);
  auto with_rv = Pod("p3");
  with_rv["metadata"]["resourceVersion"] = "5";
  auto rv_set = client_->Post("/api/v1/namespaces/default/pods", with_rv.dump(), kJson);
  ASSERT_TRUE(rv_set);
  EXPECT_EQ(rv_set->status, 500);
  auto bad = client_->Post("/api/v1/namespaces/default/pods", "{not json", kJson);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_EQ(Body(bad)["reason"], "BadRequest");
}

TEST_F(FakeApiServerTest, GenerateNameAndUnknownPaths) {
  json pod = Pod("");
  pod["metadata"].erase("name");
  pod["metadata"]["generateName"] = "job-";
  json created = MustCreatePod(pod);
  EXPECT_EQ(created["metadata"]["name"].get<std::string>().rfind("job-", 0), 0u);

  for (const char* path : {"/api/v1/namespaces/default/widgets", "/api/v1/namespaces/x/nodes/n",
                           "/api/v2/pods", "/apis/apps/v1/deployments", "/nope"}) {
    auto res = client_->Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 404) << path;
    EXPECT_EQ(Body(res)["kind"], "Status") << path;
  }
  // Never compressed, even when asked: a gzipped watch would be held back until it ends.
  auto plain = client_->Get("/api/v1/pods", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_header("Content-Encoding"));
  auto health = client_->Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->body, "ok");
}

TEST_F(FakeApiServerTest, ListWithLabelAndFieldSelectors) {
  ASSERT_TRUE(server_.Put(Pod("a1", "default", {{"app", "a"}, {"tier", "web"}}, "n1")).ok());
  ASSERT_TRUE(server_.Put(Pod("a2", "default", {{"app", "a"}}, "n2")).ok());
  ASSERT_TRUE(server_.Put(Pod("b1", "default", {{"app", "b"}})).ok());
  ASSERT_TRUE(server_.Put(Pod("c1", "kube-system", {{"app", "c"}}, "n1")).ok());
  json running = Pod("r1", "kube-system");
  running["status"] = {{"phase", "Running"}};
  ASSERT_TRUE(server_.Put(running).ok());

  struct Case {
    std::string query;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"", {"a1", "a2", "b1", "c1", "r1"}},
      {"labelSelector=app%3Da", {"a1", "a2"}},
      {"labelSelector=app%3D%3Da", {"a1", "a2"}},
      {"labelSelector=app!%3Da", {"b1", "c1", "r1"}},
      {"labelSelector=tier", {"a1"}},
      {"labelSelector=!tier,app", {"a2", "b1", "c1"}},
      {"labelSelector=app%3Da,tier%3Dweb", {"a1"}},
      {"labelSelector=app%20in%20(b,c)", {"b1", "c1"}},
      {"labelSelector=app%20notin%20(a)", {"b1", "c1", "r1"}},
      {"fieldSelector=spec.nodeName%3Dn1", {"a1", "c1"}},
      {"fieldSelector=spec.nodeName%3D", {"b1", "r1"}},
      {"fieldSelector=spec.nodeName!%3D", {"a1", "a2", "c1"}},
      {"fieldSelector=status.phase%3DRunning", {"r1"}},
      {"fieldSelector=metadata.namespace%3Dkube-system,metadata.name!%3Dr1", {"c1"}},
      {"fieldSelector=metadata.name%3Da2&labelSelector=app%3Da", {"a2"}},
  };
  for (const Case& c : cases) {
    auto res = client_->Get("/api/v1/pods?" + c.query);
    ASSERT_TRUE(res) << c.query;
    ASSERT_EQ(res->status, 200) << c.query << " " << res->body;
    json list = Body(res);
    EXPECT_EQ(list["kind"], "PodList");
    EXPECT_EQ(list["apiVersion"], "v1");
    EXPECT_EQ(list["metadata"]["resourceVersion"], std::to_string(server_.ResourceVersion()));
    std::vector<std::string> names;
    for (const json& item : list["items"]) {
      EXPECT_FALSE(item.contains("kind"));
      names.push_back(item["metadata"]["name"]);
    }
    EXPECT_EQ(names, c.want) << c.query;
  }

  auto ns_list = Body(client_->Get("/api/v1/namespaces/kube-system/pods"));
  EXPECT_EQ(ns_list["items"].size(), 2u);
  for (const char* bad :
       {"fieldSelector=spec.bogus%3Dx", "labelSelector=app%20in%20(a", "fieldSelector=nonsense"}) {
    auto res = client_->Get(std::string("/api/v1/pods?") + bad);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 400) << bad;
    EXPECT_EQ(Body(res)["reason"], "BadRequest") << bad;
  }
}

TEST_F(FakeApiServerTest, ListPagination) {
  for (const char* name : {"p1", "p2", "p3"}) ASSERT_TRUE(server_.Put(Pod(name)).ok());
  json page = Body(client_->Get("/api/v1/namespaces/default/pods?limit=2"));
  ASSERT_EQ(page["items"].size(), 2u);
  EXPECT_EQ(page["metadata"]["remainingItemCount"], 1);
  std::string token = page["metadata"]["continue"];
  json rest = Body(client_->Get("/api/v1/namespaces/default/pods?limit=2&continue=" +
                                httplib::detail::encode_query_param(token)));
  ASSERT_EQ(rest["items"].size(), 1u);
  EXPECT_EQ(rest["items"][0]["metadata"]["name"], "p3");
  EXPECT_FALSE(rest["metadata"].contains("continue"));
}

TEST_F(FakeApiServerTest, NodesAreClusterScoped) {
  json node = {{"kind", "Node"}, {"apiVersion", "v1"}, {"metadata", {{"name", "n1"}}}};
  auto res = client_->Post("/api/v1/nodes", node.dump(), kJson);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 201);
  EXPECT_FALSE(Body(res)["metadata"].contains("namespace"));
  EXPECT_EQ(Body(client_->Get("/api/v1/nodes"))["kind"], "NodeList");
  EXPECT_EQ(
      Body(client_->Get("/api/v1/nodes?fieldSelector=spec.unschedulable%3Dfalse"))["items"].size(),
      1u);
  EXPECT_TRUE(server_.Get("nodes", "", "n1").has_value());
}

// ---- Optimistic concurrency ----

TEST_F(FakeApiServerTest, PutHonoursResourceVersionAndKeepsStatus) {
  json pod = MustCreatePod(Pod("p"));
  json stale = pod;
  stale["metadata"]["resourceVersion"] = "1";
  stale["metadata"]["labels"] = {{"x", "y"}};
  auto conflict = client_->Put("/api/v1/namespaces/default/pods/p", stale.dump(), kJson);
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  json status = Body(conflict);
  EXPECT_EQ(status["reason"], "Conflict");
  EXPECT_NE(status["message"].get<std::string>().find("the object has been modified"),
            std::string::npos);

  json fresh = pod;
  fresh["metadata"]["labels"] = {{"x", "y"}};
  fresh["status"]["phase"] = "Running";  // ignored: status is a subresource
  auto ok = client_->Put("/api/v1/namespaces/default/pods/p", fresh.dump(), kJson);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200);
  json updated = Body(ok);
  EXPECT_EQ(updated["metadata"]["labels"]["x"], "y");
  EXPECT_EQ(updated["status"]["phase"], "Pending");
  EXPECT_EQ(updated["metadata"]["uid"], pod["metadata"]["uid"]);
  EXPECT_GT(std::stoull(Rv(updated)), std::stoull(Rv(pod)));

  // Writing the same object again changes nothing, not even the resourceVersion.
  uint64_t before = server_.ResourceVersion();
  json same = Body(client_->Put("/api/v1/namespaces/default/pods/p", updated.dump(), kJson));
  EXPECT_EQ(Rv(same), Rv(updated));
  EXPECT_EQ(server_.ResourceVersion(), before);

  json status_update = updated;
  status_update["status"]["phase"] = "Running";
  auto st = client_->Put("/api/v1/namespaces/default/pods/p/status", status_update.dump(), kJson);
  ASSERT_TRUE(st);
  EXPECT_EQ(Body(st)["status"]["phase"], "Running");

  auto missing = client_->Put("/api/v1/namespaces/default/pods/q", Pod("q").dump(), kJson);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto renamed = client_->Put("/api/v1/namespaces/default/pods/p", Pod("q").dump(), kJson);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->status, 400);
}

TEST_F(FakeApiServerTest, MergePatchDeletesNullsAndChecksResourceVersion) {
  json node = {{"kind", "Node"},
               {"metadata",
                {{"name", "n1"}, {"annotations", {{"hami.io/node-lock", "t1"}, {"keep", "1"}}}}}};
  json stored = *server_.Put(node);
  auto res = client_->Patch("/api/v1/nodes/n1",
                            R"({"metadata":{"annotations":{"hami.io/node-lock":null,"new":"v"}}})",
                            kMerge);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json patched = Body(res);
  EXPECT_EQ(patched["metadata"]["annotations"], json({{"keep", "1"}, {"new", "v"}}));
  EXPECT_NE(Rv(patched), Rv(stored));

  // A patch carrying a stale resourceVersion is a failed compare-and-swap.
  json stale = {{"metadata", {{"resourceVersion", Rv(stored)}, {"annotations", {{"a", "b"}}}}}};
  auto conflict = client_->Patch("/api/v1/nodes/n1", stale.dump(), kMerge);
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->status, 409);
  EXPECT_EQ(Body(conflict)["reason"], "Conflict");
  json current = {{"metadata", {{"resourceVersion", Rv(patched)}, {"annotations", {{"a", "b"}}}}}};
  auto ok = client_->Patch("/api/v1/nodes/n1", current.dump(), kMerge);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(Body(ok)["metadata"]["annotations"]["a"], "b");

  auto strategic =
      client_->Patch("/api/v1/nodes/n1", "{}", "application/strategic-merge-patch+json");
  ASSERT_TRUE(strategic);
  EXPECT_EQ(strategic->status, 415);
  EXPECT_EQ(Body(strategic)["reason"], "UnsupportedMediaType");
  auto missing = client_->Patch("/api/v1/nodes/n2", "{}", kMerge);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(FakeApiServerTest, JsonPatchOperationsEscapingAndFailingTest) {
  json pod = MustCreatePod(Pod("p", "default", {{"a/b", "1"}, {"c~d", "2"}}));
  json ops = json::array({
      {{"op", "test"}, {"path", "/metadata/labels/a~1b"}, {"value", "1"}},
      {{"op", "replace"}, {"path", "/metadata/labels/a~1b"}, {"value", "10"}},
      {{"op", "remove"}, {"path", "/metadata/labels/c~0d"}},
      {{"op", "add"}, {"path", "/metadata/annotations"}, {"value", json::object()}},
      {{"op", "add"},
       {"path", "/metadata/annotations/hami.io~1bind-phase"},
       {"value", "allocating"}},
      {{"op", "copy"}, {"from", "/metadata/labels/a~1b"}, {"path", "/metadata/labels/copied"}},
      {{"op", "move"}, {"from", "/metadata/labels/copied"}, {"path", "/metadata/labels/moved"}},
      {{"op", "add"}, {"path", "/spec/containers/-"}, {"value", {{"name", "side"}}}},
  });
  auto res = client_->Patch("/api/v1/namespaces/default/pods/p", ops.dump(), kJsonPatch);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  json patched = Body(res);
  EXPECT_EQ(patched["metadata"]["labels"], json({{"a/b", "10"}, {"moved", "10"}}));
  EXPECT_EQ(patched["metadata"]["annotations"]["hami.io/bind-phase"], "allocating");
  EXPECT_EQ(patched["spec"]["containers"].size(), 2u);

  json failing = json::array({
      {{"op", "replace"}, {"path", "/metadata/labels/moved"}, {"value", "x"}},
      {{"op", "test"}, {"path", "/metadata/labels/a~1b"}, {"value", "wrong"}},
  });
  auto test_failed =
      client_->Patch("/api/v1/namespaces/default/pods/p", failing.dump(), kJsonPatch);
  ASSERT_TRUE(test_failed);
  EXPECT_EQ(test_failed->status, 422);
  EXPECT_EQ(Body(test_failed)["reason"], "Invalid");
  EXPECT_EQ(server_.Get("pods", "default", "p")->at("metadata").at("labels").at("moved"), "10")
      << "a failed patch must not apply partially";

  auto missing_path =
      client_->Patch("/api/v1/namespaces/default/pods/p",
                     R"([{"op":"remove","path":"/metadata/labels/absent"}])", kJsonPatch);
  ASSERT_TRUE(missing_path);
  EXPECT_EQ(missing_path->status, 422);
  auto malformed = client_->Patch("/api/v1/namespaces/default/pods/p",
                                  R"([{"op":"frobnicate","path":"/x"}])", kJsonPatch);
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);

  // test on resourceVersion is the JSON-patch way to compare-and-swap.
  json cas = json::array({{{"op", "test"}, {"path", "/metadata/resourceVersion"}, {"value", "1"}},
                          {{"op", "add"}, {"path", "/metadata/labels/x"}, {"value", "y"}}});
  auto cas_res = client_->Patch("/api/v1/namespaces/default/pods/p", cas.dump(), kJsonPatch);
  ASSERT_TRUE(cas_res);
  EXPECT_EQ(cas_res->status, 422);
  json stale_rv =
      json::array({{{"op", "replace"}, {"path", "/metadata/resourceVersion"}, {"value", Rv(pod)}}});
  auto stale = client_->Patch("/api/v1/namespaces/default/pods/p", stale_rv.dump(), kJsonPatch);
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 409);
}

TEST_F(FakeApiServerTest, InjectedConflictHitsTheNextWriteOnly) {
  ASSERT_TRUE(server_.Put(Pod("p")).ok());
  server_.InjectConflict("pods", "default", "p");
  auto first = client_->Patch("/api/v1/namespaces/default/pods/p",
                              R"({"metadata":{"labels":{"a":"b"}}})", kMerge);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 409);
  auto second = client_->Patch("/api/v1/namespaces/default/pods/p",
                               R"({"metadata":{"labels":{"a":"b"}}})", kMerge);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
}

// ---- Binding, delete, other resources ----

TEST_F(FakeApiServerTest, Binding) {
  json pod = MustCreatePod(Pod("p"));
  json binding = {{"apiVersion", "v1"},
                  {"kind", "Binding"},
                  {"metadata", {{"name", "p"}, {"uid", pod["metadata"]["uid"]}}},
                  {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", "n1"}}}};
  auto res = client_->Post("/api/v1/namespaces/default/pods/p/binding", binding.dump(), kJson);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  EXPECT_EQ(Body(res)["status"], "Success");
  json bound = *server_.Get("pods", "default", "p");
  EXPECT_EQ(bound["spec"]["nodeName"], "n1");
  EXPECT_EQ(bound["status"]["conditions"][0]["type"], "PodScheduled");
  EXPECT_EQ(bound["status"]["conditions"][0]["status"], "True");

  binding["target"]["name"] = "n2";
  auto again = client_->Post("/api/v1/namespaces/default/pods/p/binding", binding.dump(), kJson);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  EXPECT_EQ(Body(again)["reason"], "Conflict");
  EXPECT_NE(Body(again)["message"].get<std::string>().find("already assigned to node \"n1\""),
            std::string::npos);

  binding["metadata"]["name"] = "ghost";
  binding["metadata"].erase("uid");
  auto ghost =
      client_->Post("/api/v1/namespaces/default/pods/ghost/binding", binding.dump(), kJson);
  ASSERT_TRUE(ghost);
  EXPECT_EQ(ghost->status, 404);
  EXPECT_EQ(Body(ghost)["reason"], "NotFound");

  MustCreatePod(Pod("q"));
  json wrong_uid = {{"metadata", {{"name", "q"}, {"uid", "not-the-uid"}}},
                    {"target", {{"kind", "Node"}, {"name", "n1"}}}};
  auto uid_res =
      client_->Post("/api/v1/namespaces/default/pods/q/binding", wrong_uid.dump(), kJson);
  ASSERT_TRUE(uid_res);
  EXPECT_EQ(uid_res->status, 409);
  EXPECT_FALSE(server_.Get("pods", "default", "q")->at("spec").contains("nodeName"));
}

TEST_F(FakeApiServerTest, DeleteWithPreconditions) {
  json pod = MustCreatePod(Pod("p"));
  auto pre = client_->Delete("/api/v1/namespaces/default/pods/p",
                             R"({"preconditions":{"uid":"other"}})", kJson);
  ASSERT_TRUE(pre);
  EXPECT_EQ(pre->status, 409);
  auto del = client_->Delete("/api/v1/namespaces/default/pods/p");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(Body(del)["metadata"]["uid"], pod["metadata"]["uid"]);
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/pods/p")->status, 404);
  EXPECT_EQ(client_->Delete("/api/v1/namespaces/default/pods/p")->status, 404);
}

TEST_F(FakeApiServerTest, LeasesAndEvents) {
  const std::string base = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases";
  json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", "hami-scheduler"}}},
                {"spec", {{"holderIdentity", "a"}, {"leaseDurationSeconds", 15}}}};
  auto created = client_->Post(base, lease.dump(), kJson);
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201);
  json got = Body(created);
  EXPECT_EQ(got["metadata"]["namespace"], "kube-system");
  got["spec"]["holderIdentity"] = "b";
  auto renewed = client_->Put(base + "/hami-scheduler", got.dump(), kJson);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->status, 200);
  auto lost = client_->Put(base + "/hami-scheduler", got.dump(), kJson);  // now stale
  ASSERT_TRUE(lost);
  EXPECT_EQ(lost->status, 409);
  EXPECT_EQ(Body(lost)["details"]["group"], "coordination.k8s.io");
  auto missing = client_->Get(base + "/other");
  ASSERT_TRUE(missing);
  EXPECT_EQ(Body(missing)["message"], "leases.coordination.k8s.io \"other\" not found");

  json event = {{"metadata", {{"name", "p.17a"}}},
                {"involvedObject", {{"kind", "Pod"}, {"name", "p"}}},
                {"reason", "FilteringFailed"},
                {"type", "Warning"}};
  auto ev = client_->Post("/api/v1/namespaces/default/events", event.dump(), kJson);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->status, 201);
  EXPECT_EQ(server_.List("events", "default").size(), 1u);
}

// ---- Watch ----

TEST_F(FakeApiServerTest, WatchDeliversAddedModifiedDeletedInOrder) {
  ASSERT_TRUE(server_.Put(Pod("before")).ok());
  json list = Body(client_->Get("/api/v1/namespaces/default/pods"));
  std::string rv = list["metadata"]["resourceVersion"];
  WatchReader watch(server_, "/api/v1/namespaces/default/pods?watch=1&resourceVersion=" + rv);
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));

  MustCreatePod(Pod("p"));
  ASSERT_EQ(client_
                ->Patch("/api/v1/namespaces/default/pods/p", R"({"metadata":{"labels":{"x":"1"}}})",
                        kMerge)
                ->status,
            200);
  ASSERT_EQ(client_->Delete("/api/v1/namespaces/default/pods/p")->status, 200);
  MustCreatePod(Pod("p", "elsewhere"));  // other namespace: not for this watch

  std::vector<json> events = watch.WaitEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "MODIFIED");
  EXPECT_EQ(events[1]["object"]["metadata"]["labels"]["x"], "1");
  EXPECT_EQ(events[2]["type"], "DELETED");
  uint64_t last = std::stoull(rv);
  for (const json& e : events) {
    EXPECT_EQ(e["object"]["kind"], "Pod");
    EXPECT_EQ(e["object"]["metadata"]["name"], "p");
    uint64_t erv = std::stoull(Rv(e["object"]));
    EXPECT_GT(erv, last);
    last = erv;
  }
}

TEST_F(FakeApiServerTest, WatchReplaysHistoryAndStartsWithStateWithoutResourceVersion) {
  uint64_t start = server_.ResourceVersion();
  ASSERT_TRUE(server_.Put(Pod("a")).ok());
  ASSERT_TRUE(server_.Put(Pod("b")).ok());
  {
    WatchReader replay(server_, "/api/v1/pods?watch=true&resourceVersion=" + std::to_string(start));
    std::vector<json> events = replay.WaitEvents(2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0]["object"]["metadata"]["name"], "a");
    EXPECT_EQ(events[1]["object"]["metadata"]["name"], "b");
  }
  WatchReader fresh(server_, "/api/v1/pods?watch=1");
  std::vector<json> events = fresh.WaitEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0]["type"], "ADDED");
  EXPECT_EQ(events[1]["type"], "ADDED");
}

TEST_F(FakeApiServerTest, WatchSelectorsTurnLeavingObjectsIntoDeleted) {
  ASSERT_TRUE(server_.Put(Pod("p", "default", {{"app", "a"}})).ok());
  WatchReader watch(server_, "/api/v1/pods?watch=1&labelSelector=app%3Da");
  ASSERT_EQ(watch.WaitEvents(1).size(), 1u);                           // initial ADDED
  ASSERT_TRUE(server_.Put(Pod("q", "default", {{"app", "b"}})).ok());  // never selected
  ASSERT_TRUE(server_.Put(Pod("p", "default", {{"app", "b"}})).ok());  // leaves
  ASSERT_TRUE(server_.Put(Pod("p", "default", {{"app", "a"}})).ok());  // comes back
  std::vector<json> events = watch.WaitEvents(3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[1]["type"], "DELETED");
  EXPECT_EQ(events[2]["type"], "ADDED");
}

TEST_F(FakeApiServerTest, BookmarksOnDemand) {
  WatchReader watch(server_, "/api/v1/nodes?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                                 std::to_string(server_.ResourceVersion()));
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  ASSERT_TRUE(server_.Put({{"kind", "Node"}, {"metadata", {{"name", "n1"}}}}).ok());
  ASSERT_EQ(watch.WaitEvents(1).size(), 1u);
  server_.SendBookmarks();
  std::vector<json> events = watch.WaitEvents(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1]["type"], "BOOKMARK");
  EXPECT_EQ(events[1]["object"],
            json({{"kind", "Node"},
                  {"apiVersion", "v1"},
                  {"metadata", {{"resourceVersion", std::to_string(server_.ResourceVersion())}}}}));
}

TEST(FakeApiServerOptionsTest, PeriodicBookmarksAndSmallHistory) {
  FakeApiServerOptions options;
  options.bookmark_interval = milliseconds(50);
  options.history_limit = 2;
  FakeApiServer server(options);
  ASSERT_TRUE(server.Start().ok());
  uint64_t start = server.ResourceVersion();
  {
    WatchReader watch(server, "/api/v1/pods?watch=1&allowWatchBookmarks=true&resourceVersion=" +
                                  std::to_string(start));
    std::vector<json> events = watch.WaitEvents(2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0]["type"], "BOOKMARK");
    EXPECT_EQ(events[1]["type"], "BOOKMARK");
  }
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(server.Put(Pod(name)).ok());
  WatchReader expired(server, "/api/v1/pods?watch=1&resourceVersion=" + std::to_string(start));
  std::vector<json> events = expired.WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
}

TEST_F(FakeApiServerTest, WatchFromCompactedResourceVersionGets410Expired) {
  uint64_t old_rv = server_.ResourceVersion();
  ASSERT_TRUE(server_.Put(Pod("a")).ok());
  server_.Compact();
  WatchReader watch(server_, "/api/v1/pods?watch=1&resourceVersion=" + std::to_string(old_rv));
  int status = 0;
  ASSERT_TRUE(watch.WaitDone(milliseconds(1500), &status));
  EXPECT_EQ(status, 200);
  std::vector<json> events = watch.WaitEvents(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["type"], "ERROR");
  EXPECT_EQ(events[0]["object"]["kind"], "Status");
  EXPECT_EQ(events[0]["object"]["code"], 410);
  EXPECT_EQ(events[0]["object"]["reason"], "Expired");

  // From the current version there is nothing to miss.
  WatchReader current(
      server_, "/api/v1/pods?watch=1&resourceVersion=" + std::to_string(server_.ResourceVersion()));
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  ASSERT_TRUE(server_.Put(Pod("b")).ok());
  EXPECT_EQ(current.WaitEvents(1)[0]["type"], "ADDED");
}

TEST_F(FakeApiServerTest, WatchEndsAfterTimeoutSeconds) {
  WatchReader timed(server_, "/api/v1/pods?watch=1&timeoutSeconds=1");
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  int status = 0;
  EXPECT_FALSE(timed.WaitDone(milliseconds(500)));
  ASSERT_TRUE(timed.WaitDone(milliseconds(1000), &status));
  EXPECT_EQ(status, 200);
}

TEST_F(FakeApiServerTest, WatchEndsOnCloseAndClientHangup) {
  WatchReader clean(server_, "/api/v1/nodes?watch=1");
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  server_.CloseWatches();
  int status = 0;
  ASSERT_TRUE(clean.WaitDone(milliseconds(1000), &status));
  EXPECT_EQ(status, 200);

  WatchReader abrupt(server_, "/api/v1/nodes?watch=1");
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  ASSERT_TRUE(server_.Put({{"kind", "Node"}, {"metadata", {{"name", "n1"}}}}).ok());
  ASSERT_EQ(abrupt.WaitEvents(1).size(), 1u);
  server_.CloseWatches(/*abrupt=*/true);
  ASSERT_TRUE(abrupt.WaitDone(milliseconds(1000), &status));
  EXPECT_EQ(status, -1);  // chunked stream cut short: the client sees a transport error

  // A client that hangs up frees its worker even when no events flow.
  WatchReader hangup(server_, "/api/v1/nodes?watch=1");
  ASSERT_EQ(hangup.WaitEvents(1).size(), 1u);
  hangup.Cancel();
  ASSERT_TRUE(server_.Put({{"kind", "Node"}, {"metadata", {{"name", "n2"}}}}).ok());
  ASSERT_TRUE(hangup.WaitDone(milliseconds(1000)));
  EXPECT_TRUE(server_.WaitUntil([&] { return server_.ActiveWatches() == 0; }, milliseconds(1000)));
}

// ---- Faults, latency, lifecycle ----

TEST_F(FakeApiServerTest, FailNextThenSucceed) {
  ASSERT_TRUE(server_.Put(Pod("p")).ok());
  server_.FailNext(1, 500);
  auto failed = client_->Get("/api/v1/namespaces/default/pods/p");
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->status, 500);
  EXPECT_EQ(Body(failed)["reason"], "InternalError");
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/pods/p")->status, 200);

  InjectedFault throttle;
  throttle.http_code = 429;
  throttle.count = 2;
  throttle.verb = "list";
  throttle.retry_after_seconds = 1;
  server_.InjectFault(throttle);
  EXPECT_EQ(client_->Get("/api/v1/namespaces/default/pods/p")->status, 200);  // a get
  auto limited = client_->Get("/api/v1/pods");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("Retry-After"), "1");
  EXPECT_EQ(Body(limited)["details"]["retryAfterSeconds"], 1);
  EXPECT_EQ(client_->Get("/api/v1/pods")->status, 429);
  EXPECT_EQ(client_->Get("/api/v1/pods")->status, 200);

  server_.FailNext(1, 503, "patch", "/nodes/");
  EXPECT_EQ(client_->Patch("/api/v1/namespaces/default/pods/p", "{}", kMerge)->status, 200);
  EXPECT_EQ(client_->Patch("/api/v1/nodes/n1", "{}", kMerge)->status, 503);

  EXPECT_EQ(server_.RequestCount("list", "/api/v1/pods"), 3);
  EXPECT_EQ(server_.RequestCount("get"), 3);
  EXPECT_EQ(server_.RequestCount("patch"), 2);
  EXPECT_EQ(server_.RequestCount(), 8);
  server_.ClearRequests();
  EXPECT_EQ(server_.RequestCount(), 0);
}

TEST_F(FakeApiServerTest, Latency) {
  server_.SetLatency(milliseconds(150), "get");
  auto t0 = std::chrono::steady_clock::now();
  client_->Get("/api/v1/namespaces/default/pods/p");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, milliseconds(150));
  t0 = std::chrono::steady_clock::now();
  client_->Get("/api/v1/pods");  // a list: not delayed
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(150));
}

TEST_F(FakeApiServerTest, StopEndsWatchesQuicklyAndRestartKeepsStore) {
  ASSERT_TRUE(server_.Put(Pod("p")).ok());
  std::string url = server_.base_url();
  auto watch = std::make_unique<WatchReader>(server_, "/api/v1/pods?watch=1");
  ASSERT_TRUE(server_.WaitForWatches(1, milliseconds(1000)));
  auto t0 = std::chrono::steady_clock::now();
  client_.reset();
  server_.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, milliseconds(1500));
  EXPECT_TRUE(watch->WaitDone(milliseconds(500)));
  watch.reset();
  EXPECT_EQ(server_.base_url(), "");

  Result<std::string> again = server_.Start();
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(*again, url);
  httplib::Client client(*again);
  auto res = client.Get("/api/v1/namespaces/default/pods/p");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_FALSE(server_.Start().ok());
}

TEST(FakeApiServerTlsTest, ServesHttpsWithGivenCertificate) {
  // A directory of its own, so concurrent test runs never overwrite each other's files.
  std::string pattern = ::testing::TempDir() + "/fake_apiserver_tls_XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  const std::string dir = pattern;
  const std::string cert = dir + "/fake_apiserver_cert.pem";
  const std::string key = dir + "/fake_apiserver_key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-subj /CN=127.0.0.1 -keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl CLI not available";
  FakeApiServerOptions options;
  options.tls_cert_path = cert;
  options.tls_key_path = key;
  FakeApiServer server(options);
  Result<std::string> url = server.Start();
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->rfind("https://127.0.0.1:", 0), 0u);
  httplib::Client client(*url);
  client.enable_server_certificate_verification(false);
  auto res = client.Get("/api/v1/nodes");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  options.tls_cert_path = dir + "/does-not-exist.pem";
  FakeApiServer broken(options);
  EXPECT_EQ(broken.Start().status().code(), StatusCode::kUnavailable);
}

TEST_F(FakeApiServerTest, DirectAccessAndWaitForObject) {
  EXPECT_FALSE(server_.Put({{"kind", "Widget"}, {"metadata", {{"name", "w"}}}}).ok());
  EXPECT_FALSE(server_.Put({{"kind", "Pod"}, {"metadata", json::object()}}).ok());
  json stored = *server_.Put({{"kind", "Pod"}, {"metadata", {{"name", "p"}}}});
  EXPECT_EQ(stored["metadata"]["namespace"], "default");
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(50));
    client_->Patch("/api/v1/namespaces/default/pods/p",
                   R"({"metadata":{"annotations":{"hami.io/vgpu-node":"n1"}}})", kMerge);
  });
  auto seen = server_.WaitForObject(
      "Pod", "default", "p",
      [](const json& pod) { return pod["metadata"].contains("annotations"); }, milliseconds(1000));
  writer.join();
  ASSERT_TRUE(seen.has_value());
  EXPECT_EQ((*seen)["metadata"]["annotations"]["hami.io/vgpu-node"], "n1");
  EXPECT_EQ(server_.ListPods().size(), 1u);
  EXPECT_TRUE(server_.Delete("pods", "default", "p").ok());
  EXPECT_EQ(server_.Delete("pods", "default", "p").code(), StatusCode::kNotFound);
  EXPECT_FALSE(server_
                   .WaitForObject(
                       "pods", "default", "p", [](const json&) { return true; }, milliseconds(20))
                   .has_value());
}

// ---- Helpers on their own ----

TEST(LabelSelectorTest, Table) {
  struct Case {
    const char* selector;
    json labels;
    bool want;
  };
  const json labels = {{"app", "a"}, {"env", "prod"}};
  const std::vector<Case> cases = {
      {"", nullptr, true},
      {"app=a", labels, true},
      {"app==a", labels, true},
      {"app=b", labels, false},
      {"app!=b", labels, true},
      {"missing!=b", labels, true},
      {"app", labels, true},
      {"!app", labels, false},
      {"!missing", nullptr, true},
      {"app in (a, b)", labels, true},
      {"app notin (a)", labels, false},
      {"missing notin (a)", labels, true},
      {" app = a , env in (prod) ", labels, true},
      {"app=a,env=dev", labels, false},
  };
  for (const Case& c : cases) {
    Result<LabelSelector> sel = LabelSelector::Parse(c.selector);
    ASSERT_TRUE(sel.ok()) << c.selector << ": " << sel.status().message();
    EXPECT_EQ(sel->Matches(c.labels), c.want) << c.selector;
  }
  for (const char* bad : {"app in (a", "app)", "=a", "app in (a,,b)", "app foo (a)", "a,,b"}) {
    EXPECT_FALSE(LabelSelector::Parse(bad).ok()) << bad;
  }
}

TEST(JsonPatchTest, MergePatchIsRfc7386) {
  json target = {{"a", "b"}, {"c", {{"d", "e"}, {"f", "g"}}}, {"l", {1, 2}}};
  json patch = {{"a", "z"}, {"c", {{"f", nullptr}}}, {"l", {3}}, {"n", {{"x", nullptr}}}};
  Result<json> out = ApplyMergePatch(target, patch);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, json({{"a", "z"}, {"c", {{"d", "e"}}}, {"l", {3}}, {"n", json::object()}}));
  EXPECT_EQ(ApplyMergePatch(target, json::array()).status().code(), StatusCode::kInvalidArgument);
}

TEST(JsonPatchTest, ErrorsAreClassified) {
  json doc = {{"a", {{"b", 1}}}};
  EXPECT_EQ(ApplyJsonPatch(doc, json::object()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyJsonPatch(doc, json::parse(R"([{"op":"add","path":"/x"}])")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyJsonPatch(doc, json::parse(R"([{"op":"add","path":"no-slash","value":1}])"))
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ApplyJsonPatch(doc, json::parse(R"([{"op":"test","path":"/a/b","value":2}])"))
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(ApplyJsonPatch(doc, json::parse(R"([{"op":"replace","path":"/zz","value":2}])"))
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
  Result<json> ok = ApplyJsonPatch(doc, json::parse(R"([{"op":"test","path":"/a/b","value":1},
                                                        {"op":"add","path":"/a/~0~1","value":2}])"));
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ((*ok)["a"]["~/"], 2);
}

}  // namespace
}  // namespace hami::fakes
