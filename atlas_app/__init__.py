"""Atlas: course booking and casework for UK councils and police areas."""
