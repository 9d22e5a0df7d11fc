// Forgets every cookie of the test profile (e.g. the OpenID provider's session, so that the
// next sign-in logs in the user named by `login_hint` instead of the one signed in before).
const [, done] = arguments;
Services.cookies.removeAll();
done({ cleared: true });
