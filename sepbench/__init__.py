"""sepbench: reproduce and benchmark regular vs depthwise-separable convolutions on MNIST."""

__version__ = "0.1.0"
