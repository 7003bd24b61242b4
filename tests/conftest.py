import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))  # shared test helpers (gate_reference)
torch.set_num_threads(1)  # `make test` runs one pytest worker per core
