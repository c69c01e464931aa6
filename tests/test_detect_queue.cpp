// deepfakedetect behaving as GStreamer's own queue does, through GstHarness: malloc is tuned
// when an element starts, not when the plugin is inspected; the task restarts on RECONFIGURE
// after not-linked; a flow error is posted only once EOS is in (before that, upstream gets the
// flow return); held frames are added to the pools of ALLOCATION answers; the pushing task
// sleeps until scores are ready instead of polling; start-time properties are refused, with a
// warning, while running; reclassify-interval=0 scores each face once; DL Streamer's device
// names. A small random model; CK_FORK=no. The malloc test must run first: the tuning is
// process-wide and happens once.
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/engine.h"
#include "deepfakemeta.h"
#include "random_model.h"

// Last: it brings in check.h, whose macros clash with standard headers included after it.
#include "element_helpers.h"

using namespace dfd::testing;

namespace {

std::string g_model;

// Whether a 64 MiB block comes from its own mmap (glibc's default above its threshold) rather
// than from the heap, as the element's malloc tuning arranges.
bool big_block_is_mmapped() {
  const size_t before = mallinfo2().hblks;
  void *block = std::malloc(64u << 20);
  ck_assert(block != nullptr);
  std::memset(block, 1, 4096);
  const bool mmapped = mallinfo2().hblks > before;
  std::free(block);
  return mmapped;
}

GstHarness *face_harness(GstElement *detect) {
  const cv::Mat bgr = face_image();
  return element_harness(detect, video_info("BGR", bgr.cols, bgr.rows));
}

GstBuffer *face_frame(int i) {
  return frame_from_bgr(face_image(), "BGR", frame_pts(i));
}

GstMessage *pop(GstBus *bus, GstMessageType types, int seconds) {
  return gst_bus_timed_pop_filtered(
      bus, static_cast<GstClockTime>(seconds * time_scale()) * GST_SECOND, types);
}

// Messages queued on `bus` hold the element, which holds the bus: flushing breaks the cycle.
void release_bus(GstBus *bus) {
  gst_bus_set_flushing(bus, TRUE);
  gst_object_unref(bus);
}

GstBus *watch(GstElement *element) {
  GstBus *bus = gst_bus_new();
  gst_element_set_bus(element, bus);
  return bus;
}

}  // namespace

START_TEST(test_malloc_tuned_when_started) {
  ck_assert_msg(big_block_is_mmapped(), "glibc's defaults expected before any element starts");
  // Making (and so inspecting) the element changes nothing process-wide.
  GstElement *detect = make_detect_with(g_model);
  GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(detect), "model");
  assert_nonnull(spec);
  ck_assert_msg(big_block_is_mmapped(), "malloc was tuned by making the element");
  // Starting it does.
  ck_assert_int_eq(gst_element_set_state(detect, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  ck_assert_msg(!big_block_is_mmapped(), "malloc not tuned when the element started");
  gst_element_set_state(detect, GST_STATE_NULL);
  gst_object_unref(detect);
}
END_TEST

// Not linked before EOS: the flow return goes back upstream and nothing is posted (upstream's
// source posts it, as with a queue); after a RECONFIGURE from the relinked peer the frames flow
// again.
START_TEST(test_not_linked_then_reconfigure) {
  GstElement *detect = make_detect_with(g_model);
  g_object_set(detect, "max-frames-in-flight", 1u, nullptr);
  GstBus *bus = watch(detect);
  GstHarness *h = face_harness(detect);
  GstPad *src = gst_element_get_static_pad(h->element, "src");
  ck_assert(gst_pad_unlink(src, h->sinkpad));

  GstFlowReturn ret = GST_FLOW_OK;
  int pushed = 0;
  while (ret == GST_FLOW_OK && pushed < 20) ret = gst_harness_push(h, face_frame(pushed++));
  ck_assert_msg(ret == GST_FLOW_NOT_LINKED, "push returned %s", gst_flow_get_name(ret));
  // The task stopped on not-linked before that return: had it posted, the error would be here.
  GstMessage *error = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
  ck_assert_msg(error == nullptr, "an error was posted before EOS");

  ck_assert_int_eq(gst_pad_link_full(src, h->sinkpad, GST_PAD_LINK_CHECK_NOTHING), GST_PAD_LINK_OK);
  ck_assert(gst_pad_push_event(h->sinkpad, gst_event_new_reconfigure()));
  ck_assert_int_eq(gst_harness_push(h, face_frame(100)), GST_FLOW_OK);
  GstBuffer *out = nullptr;
  // Frames queued before the push that failed may come first; the new one comes through.
  while ((out = pull_frame(h)) != nullptr && GST_BUFFER_PTS(out) != frame_pts(100)) {
    gst_buffer_unref(out);
  }
  assert_nonnull(out);
  ck_assert_uint_eq(roi_count(out), 1);
  gst_buffer_unref(out);
  gst_object_unref(src);
  gst_harness_teardown(h);
  release_bus(bus);
}
END_TEST

// Not linked after EOS came in: nobody upstream will hear the flow return, so the element
// posts it (once) and sends EOS on. The order is made certain, not timed: frame 0's face waits
// in a shared batch of two, which only a second element's face completes, after the EOS.
START_TEST(test_flow_error_after_eos) {
  GstElement *detect = make_detect_with(g_model);
  GstElement *other = make_detect_with(g_model);
  for (GstElement *e : {detect, other}) {
    g_object_set(e, "model-instance-id", "flow-error", "batch-size", 2u, "batch-timeout", 10000u,
                 nullptr);
  }
  GstBus *bus = watch(detect);
  GstHarness *h = face_harness(detect);
  GstHarness *h2 = face_harness(other);
  GstPad *src = gst_element_get_static_pad(h->element, "src");
  ck_assert(gst_pad_unlink(src, h->sinkpad));
  ck_assert_int_eq(gst_harness_push(h, face_frame(0)), GST_FLOW_OK);
  ck_assert(gst_harness_push_event(h, gst_event_new_eos()));
  ck_assert_msg(gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) == nullptr, "an error before EOS");
  ck_assert_int_eq(gst_harness_push(h2, face_frame(0)), GST_FLOW_OK);  // completes the batch
  GstBuffer *out = pull_frame(h2);
  assert_nonnull(out);
  gst_buffer_unref(out);
  GstMessage *error = pop(bus, GST_MESSAGE_ERROR, 60);
  assert_nonnull(error);
  GError *e = nullptr;
  gst_message_parse_error(error, &e, nullptr);
  ck_assert(e->domain == GST_STREAM_ERROR);
  g_error_free(e);
  gst_message_unref(error);
  ck_assert_msg(gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR) == nullptr, "a second error");
  gst_object_unref(src);
  gst_harness_teardown(h2);
  gst_harness_teardown(h);
  release_bus(bus);
}
END_TEST

namespace {

// Downstream's own answer: a pool of 2 to 6 buffers.
GstPadProbeReturn answer_allocation(GstPad *, GstPadProbeInfo *info, gpointer) {
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY(info);
  if (GST_QUERY_TYPE(query) != GST_QUERY_ALLOCATION) return GST_PAD_PROBE_OK;
  gst_query_add_allocation_pool(query, nullptr, 1000, 2, 6);
  return GST_PAD_PROBE_HANDLED;
}

void allocation_pools(GstHarness *h, std::vector<std::pair<guint, guint>> *pools) {
  GstCaps *caps = gst_pad_get_current_caps(h->srcpad);
  GstQuery *query = gst_query_new_allocation(caps, TRUE);
  ck_assert(gst_pad_peer_query(h->srcpad, query));
  pools->clear();
  for (guint i = 0; i < gst_query_get_n_allocation_pools(query); ++i) {
    guint size = 0, min = 0, max = 0;
    gst_query_parse_nth_allocation_pool(query, i, nullptr, &size, &min, &max);
    pools->emplace_back(min, max);
  }
  gst_query_unref(query);
  gst_caps_unref(caps);
}

}  // namespace

START_TEST(test_allocation_adds_held_frames) {
  for (const bool live : {false, true}) {
    GstElement *detect = make_detect_with(g_model);
    g_object_set(detect, "max-frames-in-flight", 5u, nullptr);
    GstHarness *h = face_harness(detect);
    gst_harness_set_live(h, live);
    // Caps are on the pad once a buffer went through.
    ck_assert_int_eq(gst_harness_push(h, face_frame(0)), GST_FLOW_OK);
    gst_buffer_unref(pull_frame(h));
    const guint held = live ? 20 : 5;  // 4 x max-frames-in-flight on a live source

    std::vector<std::pair<guint, guint>> pools;
    allocation_pools(h, &pools);  // downstream proposes no pool: one is asked for
    ck_assert_uint_eq(pools.size(), 1);
    ck_assert_uint_eq(pools[0].first, held);
    ck_assert_uint_eq(pools[0].second, 0);

    gulong probe = gst_pad_add_probe(h->sinkpad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
                                     answer_allocation, nullptr, nullptr);
    allocation_pools(h, &pools);
    ck_assert_uint_eq(pools.size(), 1);
    ck_assert_uint_eq(pools[0].first, 2 + held);
    ck_assert_uint_eq(pools[0].second, 2 + held);  // the maximum grows to fit
    gst_pad_remove_probe(h->sinkpad, probe);
    gst_harness_teardown(h);
  }
}
END_TEST

namespace {

long voluntary_switches() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_nvcsw;
}

}  // namespace

// While a frame waits for a batch that is held back by batch-timeout, the process sleeps: the
// pushing task is woken by the batch's completion, not by a timer. Polling every few ms would
// show up as hundreds of voluntary context switches in the half second watched.
START_TEST(test_task_sleeps_until_scores) {
  GstElement *detect = make_detect_with(g_model);
  const guint hold_ms = static_cast<guint>(6000 * time_scale());
  g_object_set(detect, "batch-timeout", hold_ms, nullptr);
  GstHarness *h = face_harness(detect);
  ck_assert_int_eq(gst_harness_push(h, face_frame(0)), GST_FLOW_OK);
  // The face was found and submitted (frames-analysed counts frames whose detection is done);
  // the batch now waits for more faces until its timeout.
  guint64 analysed = 0;
  while (analysed == 0) {
    g_usleep(1000);
    g_object_get(detect, "frames-analysed", &analysed, nullptr);
  }
  const long before = voluntary_switches();
  g_usleep(G_USEC_PER_SEC / 2);
  const long switches = voluntary_switches() - before;
  GstBuffer *early = gst_harness_try_pull(h);
  ck_assert_msg(early == nullptr, "the frame left before its scores");
  std::printf("voluntary context switches in 0.5 s of waiting for scores: %ld\n", switches);
  ck_assert_msg(switches < 40, "%ld context switches while waiting: the task polls", switches);
  GstBuffer *out = pull_frame(h);
  assert_nonnull(out);
  ck_assert(string_field(gst_video_region_of_interest_meta_get_param(first_roi(out), "deepfake"),
                         "label") != "unknown");
  gst_buffer_unref(out);
  gst_harness_teardown(h);
}
END_TEST

// Model, device, batching and detector are read when the element starts: changing them while
// it runs is refused with a warning instead of silently waiting for the next start.
START_TEST(test_start_properties_refused_while_running) {
  GstElement *detect = make_detect_with(g_model);
  GstBus *bus = watch(detect);
  GstHarness *h = face_harness(detect);
  g_object_set(detect, "model", "/nonexistent.safetensors", "batch-size", 3u, nullptr);
  gchar *model = nullptr;
  guint batch = 0;
  g_object_get(detect, "model", &model, "batch-size", &batch, nullptr);
  ck_assert(std::string(model) == g_model);
  ck_assert_uint_eq(batch, 8);
  g_free(model);
  int warnings = 0;
  while (GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING)) {
    GError *e = nullptr;
    gst_message_parse_warning(m, &e, nullptr);
    ck_assert_msg(std::strstr(e->message, "'model'") != nullptr ||
                      std::strstr(e->message, "'batch-size'") != nullptr,
                  "warning: %s", e->message);
    g_error_free(e);
    gst_message_unref(m);
    ++warnings;
  }
  ck_assert_int_eq(warnings, 2);
  // Properties the element reads per frame change at once, without a warning.
  g_object_set(detect, "threshold", 0.25, nullptr);
  gdouble threshold = 0;
  g_object_get(detect, "threshold", &threshold, nullptr);
  ck_assert(threshold == 0.25);
  ck_assert(gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING) == nullptr);
  // In READY they are accepted again.
  ck_assert_int_eq(gst_element_set_state(detect, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
  g_object_set(detect, "batch-size", 3u, nullptr);
  g_object_get(detect, "batch-size", &batch, nullptr);
  ck_assert_uint_eq(batch, 3);
  ck_assert(gst_bus_pop_filtered(bus, GST_MESSAGE_WARNING) == nullptr);
  gst_harness_teardown(h);
  release_bus(bus);
}
END_TEST

START_TEST(test_reclassify_never) {
  GstElement *detect = make_detect_with(g_model);
  g_object_set(detect, "reclassify-interval", 0u, nullptr);
  GstHarness *h = face_harness(detect);
  for (int i = 0; i < 4; ++i) ck_assert_int_eq(gst_harness_push(h, face_frame(i)), GST_FLOW_OK);
  double first = -1;
  for (int i = 0; i < 4; ++i) {
    GstBuffer *out = pull_frame(h);
    assert_nonnull(out);
    const GstStructure *deepfake =
        gst_video_region_of_interest_meta_get_param(first_roi(out), "deepfake");
    ck_assert_int_eq(int_field(deepfake, "analyses"), 1);
    if (i == 0) first = double_field(deepfake, "fake_probability");
    assert_near(double_field(deepfake, "fake_probability"), first);
    gst_buffer_unref(out);
  }
  guint64 frames = 0, faces = 0;
  g_object_get(detect, "frames-analysed", &frames, "faces-analysed", &faces, nullptr);
  ck_assert_uint_eq(frames, 4);  // the face is still found and tracked on every frame
  ck_assert_uint_eq(faces, 1);   // and scored once
  gst_harness_teardown(h);
}
END_TEST

START_TEST(test_device_names) {
  for (const char *name : {"CPU", "cpu", "Cpu"}) {
    GstElement *detect = make_detect_with(g_model);
    g_object_set(detect, "device", name, nullptr);
    GstHarness *h = face_harness(detect);
    ck_assert_int_eq(gst_harness_push(h, face_frame(0)), GST_FLOW_OK);
    GstBuffer *out = pull_frame(h);
    ck_assert_uint_eq(roi_count(out), 1);
    gst_buffer_unref(out);
    gchar *device = nullptr;
    g_object_get(detect, "device", &device, nullptr);
    ck_assert(std::string(device) == name);  // as set
    g_free(device);
    gst_harness_teardown(h);
  }
  // GPU names reach CUDA: on a build or machine without it, a clear start error about CUDA.
  if (!dfd::cuda_available()) {
    for (const char *name : {"GPU", "GPU.0", "gpu.1"}) {
      GstElement *detect = make_detect_with(g_model);
      g_object_set(detect, "device", name, nullptr);
      expect_start_error(detect, name, "CUDA");
    }
  }
  GstElement *detect = make_detect_with(g_model);
  g_object_set(detect, "device", "NPU", nullptr);
  expect_start_error(detect, "NPU", "GPU.N");
}
END_TEST

int main(int argc, char **argv) {
  char dir[] = "/tmp/dfd-test-queue-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    std::perror("mkdtemp");
    return EXIT_FAILURE;
  }
  g_model = std::string(dir) + "/model.safetensors";
  save_random_model(small_spatial_config("test-queue", "tests/test_detect_queue.cpp"), g_model, 17);
  gst_check_init(&argc, &argv);
  Suite *s = suite_create("detect-queue");
  TCase *malloc_case = tcase_create("malloc");  // first: see the file comment
  tcase_add_test(malloc_case, test_malloc_tuned_when_started);
  suite_add_tcase(s, malloc_case);
  TCase *tc = tcase_create("queue");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, test_not_linked_then_reconfigure);
  tcase_add_test(tc, test_flow_error_after_eos);
  tcase_add_test(tc, test_allocation_adds_held_frames);
  tcase_add_test(tc, test_task_sleeps_until_scores);
  tcase_add_test(tc, test_start_properties_refused_while_running);
  tcase_add_test(tc, test_reclassify_never);
  tcase_add_test(tc, test_device_names);
  suite_add_tcase(s, tc);
  SRunner *runner = srunner_create(s);
  srunner_run_all(runner, CK_NORMAL);
  const int failed = srunner_ntests_failed(runner);
  srunner_free(runner);
  std::remove(g_model.c_str());
  rmdir(dir);
  std::fflush(stdout);
  std::fflush(stderr);
  // As test_elements: an element of a failed test may still run; gst_deinit would wait for it.
  _exit(failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
