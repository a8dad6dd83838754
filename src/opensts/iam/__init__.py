"""The IAM management actions. Importing the package registers them."""
