"""nbgrader's configuration of the dockernb labs course (labs 3, 6 and 7 with autograded tests).

Run nbgrader from this directory: ``nbgrader generate_assignment lab6``, then students'
notebooks in ``submitted/<student>/lab6/``, then ``nbgrader autograde lab6``.
"""

c = get_config()  # noqa: F821 - nbgrader's config loader provides it
c.CourseDirectory.course_id = "dockernb-labs"
c.CourseDirectory.db_assignments = [{"name": "lab3"}, {"name": "lab6"}, {"name": "lab7"}]
# a build in lab 7 downloads FastAPI from PyPI: give cells time
c.ExecutePreprocessor.timeout = 600
c.Execute.timeout = 600
