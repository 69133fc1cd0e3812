from latentzip.cli import main


def test_continual_toy_verb(tmp_path, capsys):
    assert main(["continual", "toy", "--plot", str(tmp_path / "toy.png")]) == 0
    out = capsys.readouterr().out
    assert "| KV 1x400 | 25.0 | 50.0 | 75.0 | 100.0 | - |" in out
    assert (tmp_path / "toy.png").stat().st_size > 0


def test_continual_rejects_unknown_methods(capsys):
    assert main(["continual", "mnist", "--methods", "kv,magic"]) == 2
    assert "--methods" in capsys.readouterr().err
