"""`python -m ftp` (also `accelerate launch -m ftp ...` and `torchrun -m ftp ...`)."""

from ftp.cli import main

if __name__ == "__main__":
    main()
