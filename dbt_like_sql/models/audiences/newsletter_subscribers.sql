-- Profiles whose email is on the subscriber list with marketing_newsletter consent.
select profile_id
from profiles
where newsletter_consent
