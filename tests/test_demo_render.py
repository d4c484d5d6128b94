from PIL import Image

from demos.render import main, record


def test_gif_of_a_rollout(tmp_path):
    path = main(["--env", "diffsim/Pendulum-v0", "--steps", "5", "--out", str(tmp_path / "p.gif")])
    with Image.open(path) as im:
        assert im.n_frames == 6 and im.size == (128, 128)


def test_record_stops_at_episode_end():
    frames = record("diffsim/Trebuchet-v0", steps=10)
    assert len(frames) == 2  # reset frame and the one throw
