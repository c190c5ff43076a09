"""The starter kit's baseline, driven directly on the embedded samples.

The tests play the harness: they build the train/test `tf.data` datasets
from the prepared layout, construct `Model(metadata)`, alternate train() and
test() within a time budget, and score every prediction with the
benchmark's metrics.
"""

import dataclasses
import importlib.util
import json
import pathlib
import sys
import time
import types

import numpy as np
import pytest
from PIL import Image

from autocv import alc, api, budgets, layout, metrics
from ingestion_program import data, session

tf = pytest.importorskip("tensorflow")

REPO = pathlib.Path(__file__).resolve().parents[1]
CODE_DIR = REPO / "starter_kit"
DIGITS_DIR = REPO / "sample_data" / "digits"
DETECTION_DIR = REPO / "sample_data" / "digits-detection"


@pytest.fixture(scope="module")
def starter():
    """starter_kit/model.py, imported the way the harness does: its folder
    first on sys.path, so that its sibling modules import."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(CODE_DIR))
        spec = importlib.util.spec_from_file_location(
            "starter_kit_model", CODE_DIR / "model.py"
        )
        module = importlib.util.module_from_spec(spec)
        patch.setitem(sys.modules, spec.name, module)
        spec.loader.exec_module(module)
    return module


def _metadata(train, test, time_budget_s):
    return api.Metadata(
        **session.dataset_metadata(
            train.dataset_dir.name, train, test, time_budget_s
        )
    )


def _dataset(split, with_targets):
    """Single unbatched examples in the conventions of the README's model API."""
    return data.split_dataset(split, with_targets)


def _run(starter, dataset_dir, time_budget_s, score, config=None):
    """The harness loop; returns the model and [(elapsed_s, score), ...]."""
    train, test = layout.read_dataset(dataset_dir)
    started = time.monotonic()
    model = starter.Model(_metadata(train, test, time_budget_s), config)
    train_data, test_data = _dataset(train, True), _dataset(test, False)
    curve = []
    while not model.done_training:
        remaining_s = time_budget_s - (time.monotonic() - started)
        if remaining_s <= 0:
            break
        model.train(train_data, remaining_s)
        prediction = model.test(test_data, time_budget_s - (time.monotonic() - started))
        curve.append((time.monotonic() - started, score(test, prediction)))
    print("elapsed_s, score:", [(round(t, 1), round(s, 4)) for t, s in curve])
    return model, curve


def _accuracy(test, scores):
    scores = np.asarray(scores)
    assert scores.shape == (len(test), test.num_classes)
    assert scores.dtype == np.float32 and np.all(np.isfinite(scores))
    labels = np.array([e.label for e in test.examples])
    return metrics.normalized_mean_accuracy(labels, scores)


def _coco_map(test, predictions):
    """Checks the output structure, then scores it against annotations.json."""
    assert isinstance(predictions, list) and len(predictions) == len(test)
    results = []
    for example, prediction in zip(test.examples, predictions):
        boxes = np.asarray(prediction["boxes"])  # [n, 4] ymin, xmin, ymax, xmax
        labels = np.asarray(prediction["labels"])  # [n]
        scores = np.asarray(prediction["scores"])  # [n]
        n = len(scores)
        assert boxes.shape == (n, 4) and labels.shape == (n,) and n <= 100
        assert np.all((boxes >= 0) & (boxes <= 1))
        assert np.all(boxes[:, 2:] > boxes[:, :2])
        assert np.all((labels >= 0) & (labels < test.num_classes))
        assert np.all(np.isfinite(scores))
        size = np.array([example.height, example.width] * 2)
        for box, label, score in zip(boxes * size, labels, scores):
            ymin, xmin, ymax, xmax = box.tolist()
            results.append(
                {
                    "image_id": example.image_id,
                    "category_id": test.category_ids[int(label)],
                    "bbox": [xmin, ymin, xmax - xmin, ymax - ymin],
                    "score": float(score),
                }
            )
    path = test.dataset_dir / "test" / layout.ANNOTATIONS_FILE
    ground_truth = json.loads(path.read_text(encoding="utf-8"))
    return metrics.coco_map(ground_truth, results)


@pytest.mark.slow
def test_classification_learns_the_digits_and_stops(starter):
    model, curve = _run(starter, DIGITS_DIR, 120.0, _accuracy)
    assert model.done_training
    assert curve[-1][1] >= 0.8
    assert curve[-1][0] < 100.0
    # The anytime score of the same curve under the benchmark's defaults;
    # the harness adds the import time, a few seconds.
    area = alc.alc(
        [t for t, _ in curve],
        [s for _, s in curve],
        budgets.DEFAULT_TIME_BUDGET_S,
        budgets.DEFAULT_T0_S,
    )
    assert area >= 0.75


@pytest.mark.slow
def test_detection_predicts_valid_boxes_and_improves(starter):
    model, curve = _run(starter, DETECTION_DIR, 60.0, _coco_map)
    assert model.done_training
    assert len(curve) >= 3
    assert curve[-1][1] > 0.0
    assert curve[-1][1] > curve[0][1]


@pytest.mark.slow
@pytest.mark.parametrize("cache_max_bytes", [2**31, 0], ids=["cached", "streamed"])
def test_a_tiny_budget_still_gives_a_valid_first_prediction(starter, cache_max_bytes):
    config = starter.Config(cache_max_bytes=cache_max_bytes)
    model, curve = _run(starter, DIGITS_DIR, 1.0, _accuracy, config)
    assert len(curve) >= 1
    if cache_max_bytes:
        # The quick linear classifier made the prediction; no network
        # round ran in the budget. (When its test() ends before the budget
        # does, the loop calls train() once more, which stops at once, and
        # test() repeats the prediction.)
        assert model._net is None
        assert all(score == curve[0][1] >= 0.8 for _, score in curve)
    else:
        # Streamed data: no quick classifier, the first round always runs.
        assert model.done_training


def _digits_arrays(side_px=32):
    """The digits sample as uint8 [N, S, S, 3] arrays and labels."""
    arrays = {}
    for split in layout.read_dataset(DIGITS_DIR):
        images = []
        for example in split.examples:
            with Image.open(example.path) as file:
                image = file.convert("RGB").resize((side_px, side_px))
            images.append(np.asarray(image))
        labels = np.array([e.label for e in split.examples])
        arrays[split.name] = (np.stack(images), labels)
    return arrays["train"], arrays["test"]


def test_quick_linear_classifier_matches_scikit_learn_ridge(starter):
    linear = sys.modules["starter_linear"]
    linear_model = pytest.importorskip("sklearn.linear_model")
    (images, labels), (test_images, test_labels) = _digits_arrays()
    validation = (images[:150], labels[:150])
    quick = linear.QuickLinear(10, side_px=8)
    score = quick.fit(images[150:], labels[150:], validation)
    assert quick.penalty in linear.PENALTIES
    features = linear.thumbnails(images[150:], 8)
    assert features.shape == (len(images) - 150, 8 * 8 * 3)
    reference = linear_model.Ridge(alpha=quick.alpha).fit(
        features.astype(np.float64), np.eye(10)[labels[150:]]
    )
    test_features = linear.thumbnails(test_images, 8).astype(np.float64)
    np.testing.assert_allclose(
        quick.decision_function(test_images),
        reference.predict(test_features),
        atol=1e-4,
    )
    assert score == linear.balanced_accuracy(
        np.argmax(quick.decision_function(validation[0]), axis=1), validation[1]
    )
    scores = quick.predict(test_images)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)
    assert metrics.normalized_mean_accuracy(test_labels, scores) >= 0.75


def test_thumbnails_average_blocks_or_pick_pixels(starter):
    linear = sys.modules["starter_linear"]
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    blocks = linear.thumbnails(images, 2).reshape(2, 2, 2, 3) * 255
    np.testing.assert_allclose(
        blocks, images.reshape(2, 2, 2, 2, 2, 3).mean(axis=(2, 4)), rtol=1e-6
    )
    picked = linear.thumbnails(images, 3).reshape(2, 3, 3, 3) * 255
    np.testing.assert_allclose(picked, images[:, [0, 1, 2]][:, :, [0, 1, 2]])


def test_input_size_follows_the_images(starter):
    class Sizes:
        task = "classification"

        def __init__(self, side):
            self.image_width_mean = self.image_height_mean = side

        def get_output_size(self):
            return 3

    sides = [starter.Model(Sizes(side)).input_px for side in (8, 32, 40, 500)]
    assert sides == [32, 32, 64, 64]


def test_centernet_decodes_its_own_targets(starter):
    centernet = sys.modules["starter_centernet"]
    boxes = np.array(
        [[[0.1, 0.2, 0.3, 0.5], [0.55, 0.6, 0.95, 0.8], [0, 0, 0, 0]]],
        np.float32,
    )  # [1, 3, 4]; the last box is padding
    labels = np.array([[2, 0, -1]])
    num_classes, grid = 3, 32
    targets = centernet.make_targets(boxes, labels, grid, num_classes, 0.15)
    assert targets.shape == (1, grid, grid, num_classes + 5)
    assert targets[..., -1].sum() == 2 and targets[..., :num_classes].max() == 1
    # Ideal outputs: confident logits where the targets peak, the targets'
    # sizes and offsets elsewhere.
    heat = targets[..., :num_classes]
    logits = np.where(heat == 1.0, 8.0, -8.0 + 4.0 * heat)
    outputs = np.concatenate([logits, targets[..., num_classes:-1]], axis=-1)
    decoded, decoded_labels, scores = (
        t.numpy() for t in centernet.decode(tf.constant(outputs), num_classes, 5)
    )
    assert decoded.shape == (1, 5, 4) and scores.shape == (1, 5)
    assert sorted(decoded_labels[0, :2].tolist()) == [0, 2]
    assert np.all(scores[0, :2] > 0.99) and np.all(scores[0, 2:] < 0.99)
    found = {
        int(label): box for label, box in zip(decoded_labels[0, :2], decoded[0, :2])
    }
    np.testing.assert_allclose(found[2], boxes[0, 0], atol=1e-5)
    np.testing.assert_allclose(found[0], boxes[0, 1], atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("detector", ["retinanet", "yolov8"])
def test_anchor_detector_gives_a_valid_first_prediction(starter, detector):
    if detector == "yolov8":
        pytest.importorskip("keras_cv", reason="the optional `yolo` extra")
    # The first round always runs, whatever the budget: the detector traces
    # its training step, trains 10 steps, validates and predicts once.
    config = starter.Config(detector=detector)
    found = []

    def score(test, predictions):
        found.append(sum(len(p["scores"]) for p in predictions))
        return _coco_map(test, predictions)

    model, curve = _run(starter, DETECTION_DIR, 1.0, score, config)
    assert model.backbone == detector
    assert len(curve) == 1
    assert model.done_training
    # Ranked low-confidence boxes, not an empty answer.
    assert found[0] > 0


def test_quick_prediction_comes_first_and_stands_without_time(starter):
    train, test = layout.read_dataset(DIGITS_DIR)
    model = starter.Model(_metadata(train, test, 60.0))
    train_data, test_data = _dataset(train, True), _dataset(test, False)
    model.train(train_data, remaining_time_budget=60.0)
    first = model.test(test_data)
    # Predicted by the linear classifier: no network was built for it.
    assert model._net is None and not model.done_training
    assert _accuracy(test, first) >= 0.8
    # Too little time left for the network's first round: it stops.
    model.train(train_data, remaining_time_budget=1.0)
    assert model.done_training and model._net is None
    np.testing.assert_array_equal(model.test(test_data), first)


@pytest.mark.parametrize("cache_max_bytes", [2**31, 0], ids=["cached", "streamed"])
def test_validation_skips_the_examples_the_quick_classifier_saw(
    starter, cache_max_bytes
):
    tasks = sys.modules["starter_tasks"]
    count, first = 200, 50
    config = starter.Config(
        cache_max_bytes=cache_max_bytes,
        validation_fraction=0.25,
        classification_batch_size=10,
    )
    metadata = types.SimpleNamespace(train_size=count)
    task = tasks.Classification(metadata, config, num_classes=count, input_px=8)
    # Each example's label is its position in the dataset.
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.zeros((count, 8, 8, 3), np.uint8), np.arange(count))
    )
    batches, validation = task.load(
        dataset, np.random.default_rng(0), validation_after=first
    )
    assert batches.cached == bool(cache_max_bytes)
    held_out = set(validation[1].tolist())
    assert len(held_out) == 50 and min(held_out) >= first
    trained = set()
    for _ in range(2 * count // 10):  # Two epochs' worth of batches.
        trained.update(batches.next()[1].tolist())
    assert trained == set(range(count)) - held_out


# 2 MB holds the first 500 images at 32 px, not the whole training set.
@pytest.mark.parametrize(
    "cache_max_bytes", [2**31, 2 * 10**6], ids=["cached", "streamed"]
)
def test_quick_classifier_reads_only_the_first_examples_of_a_large_set(
    starter, cache_max_bytes
):
    train, test = layout.read_dataset(DIGITS_DIR)
    config = starter.Config(quick_max_examples=500, cache_max_bytes=cache_max_bytes)
    model = starter.Model(_metadata(train, test, 60.0), config)
    # In a fixed random order, as the harness's TFDS split is.
    train_data = _dataset(train, True).shuffle(
        len(train), seed=0, reshuffle_each_iteration=False
    )
    test_data = _dataset(test, False)
    model.train(train_data, remaining_time_budget=60.0)
    # Fitted on the first 500 examples (rounded up to whole read batches);
    # the whole set is not read yet.
    assert 500 <= model._quick_examples < len(train) and model._batches is None
    assert _accuracy(test, model.test(test_data)) >= 0.8
    model.train(train_data, remaining_time_budget=60.0)
    # The whole set is read now; the quick classifier is scored again on
    # a validation split of examples it never saw.
    assert model._batches.cached == (cache_max_bytes > 2 * 10**6)
    assert len(model._validation[1]) == int(0.1 * len(train))
    assert model._schedule.floor_score == model._quick.score(*model._validation)
    assert _accuracy(test, model.test(test_data)) >= 0.8


def test_network_takes_over_when_no_unseen_example_is_left_to_validate(starter):
    train, test = layout.read_dataset(DIGITS_DIR)
    metadata = _metadata(train, test, 60.0)
    # The metadata counts more examples than the dataset holds, so reading
    # all of them does not look like the whole set.
    metadata = dataclasses.replace(metadata, train_size=len(train) + 10)
    model = starter.Model(metadata, starter.Config(quick_max_examples=len(train)))
    train_data = _dataset(train, True).shuffle(
        len(train), seed=0, reshuffle_each_iteration=False
    )
    test_data = _dataset(test, False)
    model.train(train_data, remaining_time_budget=60.0)
    assert model._quick_examples == len(train)
    quick = model.test(test_data)
    model.train(train_data, remaining_time_budget=60.0)
    assert model._validation is None and model._schedule.floor_score == -np.inf
    assert model._schedule.network_predicts()
    network = model.test(test_data)
    assert not np.array_equal(network, quick)
    assert _accuracy(test, network) > 0.1


def test_quick_classifier_reads_a_set_sorted_by_class_whole(starter):
    train, test = layout.read_dataset(DIGITS_DIR)
    config = starter.Config(quick_max_examples=500)
    model = starter.Model(_metadata(train, test, 60.0), config)
    model.train(_dataset(train, True), remaining_time_budget=60.0)
    # The first 500 examples hold 4 of the 10 classes: it read on to the
    # last class, that is the whole set, and cached it.
    assert model._quick_examples == 0 and model._batches.cached
    assert len(model._batches.arrays[0]) + len(model._validation[0]) == len(train)
    assert _accuracy(test, model.test(_dataset(test, False))) >= 0.8


@pytest.mark.parametrize(
    "name, value",
    [
        ("classification_backbone", "resnet50"),
        ("detector", "yolo"),
        ("devices", "cuda"),
        ("mixed_precision", "half"),
    ],
)
def test_a_knob_outside_its_choices_is_refused_by_name(starter, name, value):
    with pytest.raises(ValueError, match=rf"Config\.{name} must be one of .*"
                       rf"Received: {name}='{value}'"):
        starter.Config(**{name: value})
