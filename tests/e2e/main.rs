
mod portal;
