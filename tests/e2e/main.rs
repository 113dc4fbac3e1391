
mod autoconfig;
mod mailer;
mod portal;
